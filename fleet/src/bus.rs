//! The fleet's event bus: how a service consumes the topics it reacts to.
//!
//! Fixes to the seed's `EventBus`:
//! - a failing handler is retried with bounded exponential backoff before giving up;
//! - a message given up on goes to `<topic>.dlq` with its original key, value and headers
//!   unchanged, plus `x-original-topic/partition/offset`, `x-exception-message`,
//!   `x-exception-type`, `x-failed-at` and `x-attempts` (the seed wrapped the parsed event
//!   in a new JSON body and lost the bytes and the position);
//! - handling is idempotent: a message whose event id this group already handled
//!   (redelivery after a crash, or an operator's replay of a message that did succeed) is
//!   skipped, so nothing is charged or reserved twice;
//! - offsets advance only after a message is handled or dead-lettered;
//! - what fails that is not the message's fault (the database, the dead-letter topic, a
//!   producer gone fatal and renewed) is tried again on the same message with backoff: the
//!   service neither skips the message nor stops serving.

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use sqlx::PgPool;
use std::future::Future;
use std::time::Duration;
use switchyard_contract::kafka::renewing::RenewingProducer;
use switchyard_contract::trace_context::{within, TraceParent};
use switchyard_contract::{Envelope, DLQ_SUFFIX};
use tokio::sync::watch;
use tracing::Instrument;

/// Why a handler failed: `kind` becomes `x-exception-type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    pub kind: String,
    pub message: String,
}

impl HandlerError {
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        HandlerError {
            kind: kind.to_string(),
            message: message.into(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Delay before attempt `n` (2, 3, …): doubling from `initial`, capped at `max`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(2));
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// The dead letter for a message: same key, value and headers, plus where it came from
/// and why it failed.
pub fn dead_letter_headers(
    original: &[(String, Option<Vec<u8>>)],
    topic: &str,
    partition: i32,
    offset: i64,
    err: &HandlerError,
    attempts: u32,
) -> Vec<(String, Option<Vec<u8>>)> {
    const OURS: &[&str] = &[
        "x-original-topic",
        "x-original-partition",
        "x-original-offset",
        "x-exception-message",
        "x-exception-type",
        "x-failed-at",
        "x-attempts",
    ];
    let mut out: Vec<(String, Option<Vec<u8>>)> = original
        .iter()
        .filter(|(k, _)| !OURS.contains(&k.as_str()))
        .cloned()
        .collect();
    for (k, v) in [
        ("x-original-topic", topic.to_string()),
        ("x-original-partition", partition.to_string()),
        ("x-original-offset", offset.to_string()),
        ("x-exception-message", err.message.clone()),
        ("x-exception-type", err.kind.clone()),
        ("x-failed-at", chrono::Utc::now().to_rfc3339()),
        ("x-attempts", attempts.to_string()),
    ] {
        out.push((k.to_string(), Some(v.into_bytes())));
    }
    out
}

fn headers_of(m: &BorrowedMessage<'_>) -> Vec<(String, Option<Vec<u8>>)> {
    m.headers()
        .map(|hs| {
            hs.iter()
                .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                .collect()
        })
        .unwrap_or_default()
}

/// Which events concern a handler (say, the `saga.step` requests for one service); the
/// others are passed over without a trace.
pub type Accept = std::sync::Arc<dyn Fn(&Envelope) -> bool + Send + Sync>;

/// One service's subscription: consumes `topics` as consumer group `group` and calls
/// `handler` for each event it accepts (all when `accept` is `None`), until `shutdown`
/// turns true.
pub struct Subscription {
    pub brokers: String,
    pub group: String,
    pub topics: Vec<String>,
    pub retry: RetryPolicy,
    pub accept: Option<Accept>,
}

impl Subscription {
    pub async fn run<H, F>(
        self,
        pool: PgPool,
        producer: RenewingProducer,
        handler: H,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()>
    where
        H: Fn(Envelope) -> F,
        F: Future<Output = Result<(), HandlerError>>,
    {
        let consumer: StreamConsumer = switchyard_contract::kafka::client_config(&self.brokers)
            .set("group.id", &self.group)
            .set("enable.auto.commit", "true")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "10")
            .set("session.timeout.ms", "6000")
            .create()?;
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        let mut quiet = Quiet::default();
        let mut failing = Quiet::default();
        'messages: loop {
            let m = tokio::select! {
                m = consumer.recv() => m,
                _ = shutdown.changed() => break,
            };
            let m = match m {
                Ok(m) => {
                    quiet.ok();
                    m
                }
                Err(e) => {
                    // librdkafka reports a broker that is down on every poll: said once
                    // a minute (with how many were not said), not hundreds of times.
                    if let Some(unsaid) = quiet.say() {
                        tracing::warn!(error = %e, group = %self.group, unsaid, "receive error");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
                        _ = shutdown.wait_for(|stop| *stop) => break,
                    }
                    continue;
                }
            };
            // A stop does not wait for a handler held up by the broker (a produce waits up
            // to its message timeout): the record is not stored as handled, so the next
            // run handles it again, idempotent by event id as after a crash.
            let mut backoff = Duration::from_millis(100);
            loop {
                let handled = tokio::select! {
                    handled = self.handle(&pool, &producer, &handler, &m) => handled,
                    _ = shutdown.wait_for(|stop| *stop) => break 'messages,
                };
                let Err(e) = handled else {
                    failing.ok();
                    break;
                };
                if let Some(unsaid) = failing.say() {
                    tracing::warn!(error = %e, group = %self.group, topic = m.topic(),
                        partition = m.partition(), offset = m.offset(), unsaid,
                        "cannot handle a message; trying it again");
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.wait_for(|stop| *stop) => break 'messages,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            // Fails only when the partition was taken away meanwhile (a long outage
            // outlasted `max.poll.interval.ms`): its new owner handles it again.
            if let Err(e) = consumer.store_offset_from_message(&m) {
                tracing::warn!(error = %e, group = %self.group, "offset not stored");
            }
        }
        // Commit what was handled, then leave the group: both wait for the broker, so both
        // are bounded (a stop with the broker gone still ends; what was not committed is
        // handled again, and the handlers are idempotent by event id).
        let kafka = switchyard_contract::kafka::CLOSE_WITHIN;
        switchyard_contract::kafka::close_within("service consumer", kafka, move || {
            let _ = consumer.commit_consumer_state(rdkafka::consumer::CommitMode::Sync);
            drop(consumer);
        })
        .await;
        Ok(())
    }

    async fn handle<H, F>(
        &self,
        pool: &PgPool,
        producer: &RenewingProducer,
        handler: &H,
        m: &BorrowedMessage<'_>,
    ) -> anyhow::Result<()>
    where
        H: Fn(Envelope) -> F,
        F: Future<Output = Result<(), HandlerError>>,
    {
        let env = match m.payload().map(serde_json::from_slice::<Envelope>) {
            Some(Ok(env)) => env,
            Some(Err(e)) => {
                let err =
                    HandlerError::new("Deserialization", format!("not an event envelope: {e}"));
                return self.dead_letter(producer, m, &err, 1).await;
            }
            None => return Ok(()), // tombstone: nothing to do
        };
        if self.accept.as_ref().is_some_and(|accept| !accept(&env)) {
            return Ok(());
        }
        let seen: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM processed WHERE group_id = $1 AND event_id = $2")
                .bind(&self.group)
                .bind(env.id)
                .fetch_optional(pool)
                .await?;
        if seen.is_some() {
            tracing::debug!(event = %env.id, group = %self.group, "already handled; skipped");
            return Ok(());
        }
        // The handler runs in the trace its message carried (or a new one): what it
        // publishes continues that trace, and its log lines carry the trace id.
        let trace = TraceParent::from_headers(
            m.headers()
                .into_iter()
                .flat_map(|hs| hs.iter())
                .map(|h| (h.key, h.value)),
        )
        .unwrap_or_else(TraceParent::root);
        let span = tracing::info_span!("handle", trace_id = %trace.trace_id(),
            group = %self.group, event_type = %env.event_type, order_id = %env.aggregate_id);
        let mut attempt = 1;
        loop {
            let outcome = within(trace, handler(env.clone()))
                .instrument(span.clone())
                .await;
            match outcome {
                Ok(()) => {
                    sqlx::query("INSERT INTO processed (group_id, event_id, topic) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                        .bind(&self.group)
                        .bind(env.id)
                        .bind(m.topic())
                        .execute(pool)
                        .await?;
                    return Ok(());
                }
                Err(err) if attempt >= self.retry.max_attempts => {
                    tracing::warn!(event = %env.id, topic = m.topic(), error = %err.message, attempt, "giving up; dead-lettering");
                    return self.dead_letter(producer, m, &err, attempt).await;
                }
                Err(err) => {
                    attempt += 1;
                    tracing::debug!(event = %env.id, error = %err.message, attempt, "retrying");
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                }
            }
        }
    }

    async fn dead_letter(
        &self,
        producer: &RenewingProducer,
        m: &BorrowedMessage<'_>,
        err: &HandlerError,
        attempts: u32,
    ) -> anyhow::Result<()> {
        let topic = format!("{}{DLQ_SUFFIX}", m.topic());
        let headers = dead_letter_headers(
            &headers_of(m),
            m.topic(),
            m.partition(),
            m.offset(),
            err,
            attempts,
        );
        let mut owned = OwnedHeaders::new();
        for (k, v) in &headers {
            owned = owned.insert(Header {
                key: k,
                value: v.as_deref(),
            });
        }
        let mut record = FutureRecord::<[u8], [u8]>::to(&topic).headers(owned);
        if let Some(k) = m.key() {
            record = record.key(k);
        }
        if let Some(v) = m.payload() {
            record = record.payload(v);
        }
        let sent = producer.get().send(record, Duration::from_secs(30)).await;
        if let Err((e, _)) = sent {
            producer.renew_if_fatal();
            anyhow::bail!("dead-letter to {topic}: {e}");
        }
        Ok(())
    }
}

/// A repeated error said at most once a minute while it lasts.
#[derive(Default)]
struct Quiet {
    said: Option<std::time::Instant>,
    unsaid: u64,
}

impl Quiet {
    /// `Some(errors not said since the last time)` when this one should be said.
    fn say(&mut self) -> Option<u64> {
        let due = self
            .said
            .is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(60));
        if due {
            self.said = Some(std::time::Instant::now());
            Some(std::mem::take(&mut self.unsaid))
        } else {
            self.unsaid += 1;
            None
        }
    }

    /// Things work again: the next error is said at once.
    fn ok(&mut self) {
        self.said = None;
        self.unsaid = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 6,
            initial: Duration::from_millis(100),
            max: Duration::from_millis(500),
        };
        let d: Vec<u128> = (2..=6).map(|a| p.delay(a).as_millis()).collect();
        assert_eq!(d, vec![100, 200, 400, 500, 500]);
    }

    #[test]
    fn dead_letter_headers_keep_the_original_and_replace_stale_ones() {
        let original = vec![
            ("x-event-id".to_string(), Some(b"e1".to_vec())),
            ("x-original-topic".to_string(), Some(b"stale".to_vec())),
            ("x-replay-count".to_string(), Some(b"1".to_vec())),
        ];
        let h = dead_letter_headers(
            &original,
            "payment.completed",
            2,
            40,
            &HandlerError::new("Timeout", "gateway"),
            3,
        );
        let get = |k: &str| {
            h.iter()
                .filter(|(n, _)| n == k)
                .map(|(_, v)| String::from_utf8(v.clone().unwrap()).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("x-original-topic"), vec!["payment.completed"]);
        assert_eq!(get("x-original-partition"), vec!["2"]);
        assert_eq!(get("x-attempts"), vec!["3"]);
        assert_eq!(get("x-event-id"), vec!["e1"]);
        assert_eq!(get("x-replay-count"), vec!["1"]);
    }

    #[test]
    fn a_repeated_error_is_said_once_a_minute_and_again_after_recovery() {
        let mut q = Quiet::default();
        assert_eq!(q.say(), Some(0));
        assert_eq!(q.say(), None);
        assert_eq!(q.say(), None);
        q.said = Some(std::time::Instant::now() - std::time::Duration::from_secs(61));
        assert_eq!(q.say(), Some(2));
        q.ok();
        assert_eq!(q.say(), Some(0));
    }
}
