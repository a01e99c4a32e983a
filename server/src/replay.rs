//! Replaying a dead letter: its original key and value go back to its original topic with
//! a chosen set of headers, stamped `x-replay-id`, `x-replay-count` and `x-replayed-by`.
//!
//! - Once: a unique index allows one live replay per dead letter, so concurrent requests
//!   (double click, two operators) send it once; the loser is told it is already replayed.
//! - Headers: the dead-letter bookkeeping of every dialect (`x-original-*`,
//!   `x-exception-*`, `kafka_dlt-*`, `__connect.errors.*`, …) and, by default, tracing and
//!   replication headers are not carried; everything else is, byte for byte.
//! - Parking: a message already replayed `max_replays` times is parked instead of sent.

use crate::contract::DLQ_SUFFIX;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

/// Header-name prefixes never carried on a replay: each dialect's dead-letter bookkeeping.
const DEAD_LETTER_PREFIXES: &[&str] = &[
    "x-original-",
    "x-exception-",
    "x-failed-at",
    "x-attempts",
    "x-replay-",
    "kafka_dlt-",
    "__connect.errors.",
    "__streams.errors.",
    "dead-letter-",
];

/// Stripped by default (stale trace context; replication bookkeeping), unless asked for.
pub const DEFAULT_STRIPPED: &[&str] = &[
    "traceparent",
    "tracestate",
    "uber-trace-id",
    "b3",
    "x-b3-",
    "__mm2",
    "kafka_replication",
];

#[derive(Debug, PartialEq, Eq)]
pub enum Replayed {
    Sent {
        replay_id: Uuid,
        topic: String,
        partition: i32,
        offset: i64,
    },
    /// Someone already replayed (or is replaying) this dead letter.
    AlreadyReplayed,
    /// Replayed too often already: parked, not sent.
    Parked,
    /// Discarded or missing.
    NotReplayable(String),
}

/// The headers a replay carries: the dead letter's own, minus bookkeeping and `strip`.
pub fn replay_headers(stored: &Value, strip: &[&str]) -> Vec<(String, Option<Vec<u8>>)> {
    let Some(list) = stored.as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|h| {
            let key = h.get("key")?.as_str()?.to_string();
            let lower = key.to_ascii_lowercase();
            if DEAD_LETTER_PREFIXES
                .iter()
                .chain(strip)
                .any(|p| lower.starts_with(p))
            {
                return None;
            }
            let value = match (
                h.get("text").and_then(Value::as_str),
                h.get("hex").and_then(Value::as_str),
            ) {
                (Some(t), _) => Some(t.as_bytes().to_vec()),
                (None, Some(hex)) => Some(
                    (0..hex.len() / 2)
                        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
                        .collect(),
                ),
                _ => None,
            };
            Some((key, value))
        })
        .collect()
}

type DeadLetter = (String, String, Option<Vec<u8>>, Option<Vec<u8>>, Value, i32);

/// Replays one dead letter (see the module doc). `by` is the operator, for the stamp.
pub async fn replay_one(
    pool: &PgPool,
    producer: &FutureProducer,
    dead_letter_id: i64,
    by: &str,
    max_replays: i32,
) -> anyhow::Result<Replayed> {
    let replay_id = Uuid::now_v7();
    let mut tx = pool.begin().await?;
    let dl: Option<DeadLetter> = sqlx::query_as(
        "SELECT status, original_topic, kafka_key, replay_value, headers, replay_count
         FROM dead_letters WHERE id = $1 FOR UPDATE",
    )
    .bind(dead_letter_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((status, topic, key, value, headers, count)) = dl else {
        return Ok(Replayed::NotReplayable("no such dead letter".into()));
    };
    match status.as_str() {
        "replaying" | "replayed" => return Ok(Replayed::AlreadyReplayed),
        "discarded" | "parked" => {
            return Ok(Replayed::NotReplayable(format!("dead letter is {status}")))
        }
        _ => {}
    }
    if topic.ends_with(DLQ_SUFFIX) {
        return Ok(Replayed::NotReplayable(format!(
            "original topic {topic} is itself a dead-letter topic"
        )));
    }
    if count >= max_replays {
        sqlx::query("UPDATE dead_letters SET status = 'parked' WHERE id = $1")
            .bind(dead_letter_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(Replayed::Parked);
    }
    let claimed = sqlx::query(
        "INSERT INTO replays (replay_id, dead_letter_id, requested_by, status, target_topic)
         VALUES ($1, $2, $3, 'sending', $4) ON CONFLICT DO NOTHING",
    )
    .bind(replay_id)
    .bind(dead_letter_id)
    .bind(by)
    .bind(&topic)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        return Ok(Replayed::AlreadyReplayed);
    }
    sqlx::query("UPDATE dead_letters SET status = 'replaying' WHERE id = $1")
        .bind(dead_letter_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;

    let mut owned = OwnedHeaders::new();
    let mut carried = replay_headers(&headers, DEFAULT_STRIPPED);
    carried.push((
        "x-replay-id".into(),
        Some(replay_id.to_string().into_bytes()),
    ));
    carried.push((
        "x-replay-count".into(),
        Some((count + 1).to_string().into_bytes()),
    ));
    carried.push(("x-replayed-by".into(), Some(by.as_bytes().to_vec())));
    for (k, v) in &carried {
        owned = owned.insert(Header {
            key: k,
            value: v.as_deref(),
        });
    }
    let mut record = FutureRecord::<[u8], [u8]>::to(&topic).headers(owned);
    if let Some(k) = key.as_deref() {
        record = record.key(k);
    }
    if let Some(v) = value.as_deref() {
        record = record.payload(v);
    }
    match producer.send(record, Duration::from_secs(30)).await {
        Ok(d) => {
            sqlx::query(
                "UPDATE replays SET status = 'sent', target_partition = $2, target_offset = $3, finished_at = now()
                 WHERE replay_id = $1",
            )
            .bind(replay_id)
            .bind(d.partition)
            .bind(d.offset)
            .execute(pool)
            .await?;
            sqlx::query("UPDATE dead_letters SET status = 'replayed' WHERE id = $1")
                .bind(dead_letter_id)
                .execute(pool)
                .await?;
            Ok(Replayed::Sent {
                replay_id,
                topic,
                partition: d.partition,
                offset: d.offset,
            })
        }
        Err((e, _)) => {
            sqlx::query("UPDATE replays SET status = 'failed', error = $2, finished_at = now() WHERE replay_id = $1")
                .bind(replay_id)
                .bind(e.to_string())
                .execute(pool)
                .await?;
            sqlx::query("UPDATE dead_letters SET status = 'pending' WHERE id = $1")
                .bind(dead_letter_id)
                .execute(pool)
                .await?;
            anyhow::bail!("replay of dead letter {dead_letter_id} failed: {e}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bookkeeping_and_trace_headers_are_not_carried() {
        let stored = json!([
            {"key": "x-event-id", "text": "e1"},
            {"key": "x-original-topic", "text": "payment.completed"},
            {"key": "kafka_dlt-original-offset", "hex": "0000000000000007"},
            {"key": "traceparent", "text": "00-abc-def-01"},
            {"key": "x-replay-count", "text": "1"},
            {"key": "bin", "hex": "00ff"},
            {"key": "empty"}
        ]);
        let h = replay_headers(&stored, DEFAULT_STRIPPED);
        assert_eq!(
            h,
            vec![
                ("x-event-id".to_string(), Some(b"e1".to_vec())),
                ("bin".to_string(), Some(vec![0, 0xff])),
                ("empty".to_string(), None),
            ]
        );
        // Asked for explicitly, trace context is kept.
        assert!(replay_headers(&stored, &[])
            .iter()
            .any(|(k, _)| k == "traceparent"));
    }
}
