//! Writes one batch in one transaction: events, dead letters and quarantined records (each
//! idempotent on its source position), the projections of what was new (orders, saga
//! steps' time, breakers and their transitions, per-minute rollups), the consumer
//! positions, and a NOTIFY that PostgreSQL delivers only if the transaction commits.
//!
//! Every statement is set-based, so a batch costs a fixed handful of round trips whatever
//! its size. The transaction first locks the batch's partitions' stored positions; records
//! below them are stored already and are dropped, so the rest are new and go in by binary
//! `COPY` (`saga_steps` is a view over `events`). On a partition's first batch for the
//! group (its position created now), events already in the store by their source position
//! (rows another consumer group or a tool wrote) are looked up and kept, not written again.

use super::batch::{Batch, Span};
use super::copy_binary::CopyRows;
use super::dead_letter::DeadLetterRow;
use super::project::{
    breaker_deltas, order_deltas, rollups, step_columns, transition, BreakerDelta, OrderDelta,
};
use super::record::{EventRow, QuarantineRow};
use super::LIVE_CHANNEL;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};
use std::collections::{BTreeMap, HashMap, HashSet};

/// At most this many order ids are named in one NOTIFY (its payload is limited to 8000
/// bytes); beyond that listeners are told to reload.
const NOTIFY_MAX_IDS: usize = 100;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub stored: usize,
    pub duplicates: usize,
    pub dead_letters: usize,
    pub quarantined: usize,
    pub orders_changed: Vec<String>,
}

pub async fn write_batch(pool: &PgPool, group: &str, batch: &Batch) -> sqlx::Result<Outcome> {
    write_with(pool, group, batch).await
}

async fn write_with(pool: &PgPool, group: &str, batch: &Batch) -> sqlx::Result<Outcome> {
    let mut tx = pool.begin().await?;
    // Lock this batch's partitions' positions first: a second instance holding one of them
    // (a rebalance in flight) waits here, then sees what this one stored.
    let (stored, first_claims) = claim_positions(&mut tx, group, &batch.positions).await?;
    let inc: Incarnations = batch
        .positions
        .iter()
        .map(|((t, p), s)| ((t.as_str(), *p), s.incarnation))
        .collect();
    let mut events = unstored(&batch.events, &stored);
    if !first_claims.is_empty() {
        // A partition this group had no position for may still have rows (another group's,
        // or a tool's): those are kept, not written twice.
        events = not_in_store(&mut tx, events, &first_claims, &inc).await?;
    }
    // Only rows inserted now feed projections: a redelivered record changes nothing.
    let fresh: Vec<(i64, &EventRow)> = copy_events(&mut tx, &events, &inc).await?;
    let fresh_dead =
        insert_dead_letters(&mut tx, &unstored(&batch.dead_letters, &stored), &inc).await?;
    let fresh_quarantine =
        insert_quarantine(&mut tx, &unstored(&batch.quarantined, &stored), &inc).await?;

    let deltas = order_deltas(fresh.iter().map(|(_, e)| *e));
    insert_transitions(&mut tx, &fresh).await?;
    upsert_orders(&mut tx, &deltas).await?;
    // The rows every batch touches (a few breakers, this minute's rollups) last, so their
    // locks are held only until the commit that follows.
    upsert_breakers(&mut tx, &breaker_deltas(fresh.iter().map(|(_, e)| *e))).await?;
    upsert_rollups(
        &mut tx,
        &rollups(
            fresh.iter().map(|(_, e)| *e),
            fresh_dead.iter().copied(),
            fresh_quarantine.iter().copied(),
            Utc::now(),
        ),
    )
    .await?;
    save_positions(&mut tx, group, &batch.positions).await?;

    let orders_changed: Vec<String> = deltas.into_iter().map(|d| d.order_id).collect();
    let outcome = Outcome {
        stored: fresh.len(),
        duplicates: batch.events.len() - fresh.len(),
        dead_letters: fresh_dead.len(),
        quarantined: fresh_quarantine.len(),
        orders_changed,
    };
    if outcome.stored + outcome.dead_letters + outcome.quarantined > 0 {
        notify(&mut tx, &outcome, batch.oldest_ms).await?;
    }
    tx.commit().await?;
    Ok(outcome)
}

/// A row's source position in Kafka: (topic, partition, offset).
trait Sourced {
    fn source(&self) -> (&str, i32, i64);
}

impl Sourced for EventRow {
    fn source(&self) -> (&str, i32, i64) {
        (&self.topic, self.partition, self.offset)
    }
}

impl Sourced for DeadLetterRow {
    fn source(&self) -> (&str, i32, i64) {
        (&self.topic, self.partition, self.offset)
    }
}

impl Sourced for QuarantineRow {
    fn source(&self) -> (&str, i32, i64) {
        (&self.topic, self.partition, self.offset)
    }
}

/// The incarnation each partition of a batch was read from.
type Incarnations<'a> = HashMap<(&'a str, i32), i32>;

/// The incarnation of the partition a row was read from.
fn incarnation(inc: &Incarnations, topic: &str, partition: i32) -> i32 {
    inc.get(&(topic, partition)).copied().unwrap_or(0)
}

/// Where each partition of a batch takes records from: `Some(next)`, records at or past
/// the stored position; `None`, no record (the batch was read from another incarnation of
/// the partition's log than the one stored, a log replaced since; or the partition is
/// paused until an admin decides).
type Accepts<'a> = HashMap<(&'a str, i32), Option<i64>>;

/// The rows not stored already: at or past their partition's stored position, read from
/// the stored incarnation (a partition with no position yet has stored nothing).
fn unstored<'a, T: Sourced>(rows: &'a [T], stored: &Accepts) -> Vec<&'a T> {
    rows.iter()
        .filter(|r| {
            let (topic, partition, offset) = r.source();
            match stored.get(&(topic, partition)) {
                Some(Some(next)) => offset >= *next,
                Some(None) => false,
                None => true,
            }
        })
        .collect()
}

/// Locks the group's position row of each partition in `spans` (creating it at the
/// batch's first offset and incarnation, under the topic's id as ingest last saw it, when
/// the partition has none yet) and returns
/// where each partition takes records from: records below the stored next offset are
/// stored already, a batch read from another incarnation than the stored one is stale
/// (the log was replaced since), and a paused partition takes none.
async fn claim_positions<'b>(
    tx: &mut Transaction<'_, Postgres>,
    group: &str,
    spans: &'b BTreeMap<(String, i32), Span>,
) -> sqlx::Result<(Accepts<'b>, FirstClaims)> {
    if spans.is_empty() {
        return Ok((HashMap::new(), HashSet::new()));
    }
    // Sorted (a BTreeMap), so two instances lock shared rows in one order: no deadlock.
    let rows: Vec<(String, i32, i64, i32, bool, bool)> = sqlx::query_as(
        "INSERT INTO consumer_positions AS p (group_id, topic, kafka_partition, next_offset,
             incarnation, topic_id)
         SELECT $1, u.*, (SELECT t.topic_id FROM ingest_topic_ids t
                           WHERE t.group_id = $1 AND t.topic = u.topic)
           FROM UNNEST($2::text[], $3::int4[], $4::int8[], $5::int4[]) AS u(topic)
         ON CONFLICT (group_id, topic, kafka_partition) DO UPDATE SET next_offset = p.next_offset
         RETURNING topic, kafka_partition, next_offset, incarnation, paused, xmax = 0",
    )
    .bind(group)
    .bind(spans.keys().map(|(t, _)| t.as_str()).collect::<Vec<_>>())
    .bind(spans.keys().map(|(_, p)| *p).collect::<Vec<_>>())
    .bind(spans.values().map(|s| s.first).collect::<Vec<_>>())
    .bind(spans.values().map(|s| s.incarnation).collect::<Vec<_>>())
    .fetch_all(&mut **tx)
    .await?;
    // A position created now (`xmax = 0`: inserted, not updated) is a first claim.
    let first: FirstClaims = rows
        .iter()
        .filter(|r| r.5)
        .map(|r| (r.0.clone(), r.1))
        .collect();
    // Keyed by the batch's own topic names, so each record's lookup allocates nothing.
    let rows: HashMap<(String, i32), (i64, i32, bool)> = rows
        .into_iter()
        .map(|(t, p, o, i, paused, _)| ((t, p), (o, i, paused)))
        .collect();
    let accepts = spans
        .iter()
        .filter_map(|(k, span)| {
            let (next, incarnation, paused) = *rows.get(k)?;
            Some((
                (k.0.as_str(), k.1),
                (incarnation == span.incarnation && !paused).then_some(next),
            ))
        })
        .collect();
    Ok((accepts, first))
}

/// Partitions whose position this batch created: this group never stored anything from
/// them, but rows from them may be in the store all the same.
type FirstClaims = HashSet<(String, i32)>;

/// `events` without those of a first-claimed partition whose source position is in the
/// store already. The event store is partitioned by time, so no unique index can say so
/// (`events_source_position` is a plain index); this lookup runs only on a partition's
/// first batch for a group.
async fn not_in_store<'a>(
    tx: &mut Transaction<'_, Postgres>,
    events: Vec<&'a EventRow>,
    first: &FirstClaims,
    inc: &Incarnations<'_>,
) -> sqlx::Result<Vec<&'a EventRow>> {
    let probe: Vec<&EventRow> = events
        .iter()
        .copied()
        .filter(|e| first.contains(&(e.topic.clone(), e.partition)))
        .collect();
    if probe.is_empty() {
        return Ok(events);
    }
    let found: Vec<(String, i32, i64)> = sqlx::query_as(
        "SELECT u.t, u.p, u.o FROM UNNEST($1::text[], $2::int4[], $3::int8[], $4::int4[]) AS u(t, p, o, i)
          WHERE EXISTS (SELECT 1 FROM events e WHERE e.topic = u.t AND e.kafka_partition = u.p
                                                 AND e.kafka_offset = u.o AND e.incarnation = u.i)",
    )
    .bind(probe.iter().map(|e| e.topic.as_str()).collect::<Vec<_>>())
    .bind(probe.iter().map(|e| e.partition).collect::<Vec<_>>())
    .bind(probe.iter().map(|e| e.offset).collect::<Vec<_>>())
    .bind(
        probe
            .iter()
            .map(|e| incarnation(inc, &e.topic, e.partition))
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut **tx)
    .await?;
    if found.is_empty() {
        return Ok(events);
    }
    tracing::info!(
        rows = found.len(),
        "events already stored past this group's positions (another group's or a tool's); kept, not written again"
    );
    let found: HashSet<(String, i32, i64)> = found.into_iter().collect();
    Ok(events
        .into_iter()
        .filter(|e| !found.contains(&(e.topic.clone(), e.partition, e.offset)))
        .collect())
}

/// Copies `events` (none of them stored yet) into `events` with ids drawn from its
/// sequence; returns each with its id.
async fn copy_events<'a>(
    tx: &mut Transaction<'_, Postgres>,
    events: &[&'a EventRow],
    inc: &Incarnations<'_>,
) -> sqlx::Result<Vec<(i64, &'a EventRow)>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    // One row holding every id: a row per id costs the client more than the ids do.
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT array_agg(nextval('events_id_seq')) FROM generate_series(1, $1)",
    )
    .bind(events.len() as i64)
    .fetch_one(&mut **tx)
    .await?;
    copy_in(
        tx,
        EVENTS_COPY,
        events_copy(&ids, events, |t, p| incarnation(inc, t, p)),
    )
    .await?;
    Ok(ids.into_iter().zip(events.iter().copied()).collect())
}

/// The `COPY` that [`events_copy`] feeds.
pub const EVENTS_COPY: &str = "COPY events (id, topic, kafka_partition, kafka_offset, kafka_key,
    event_id, event_type, aggregate_id, aggregate_version, occurred_at, source, correlation_id,
    causation_id, headers, payload, incarnation, step_at, step_order) FROM STDIN WITH (FORMAT binary)";

/// The binary `COPY` body of `events` with the given ids, in [`EVENTS_COPY`]'s columns;
/// `incarnation` says which incarnation of its partition's log each was read from. A saga
/// step's own time (and its order, when not its aggregate) go in `step_at` and
/// `step_order`, which make it a row of the `saga_steps` view.
pub fn events_copy(
    ids: &[i64],
    events: &[&EventRow],
    incarnation: impl Fn(&str, i32) -> i32,
) -> CopyRows {
    let mut rows = CopyRows::new(18, events.len() * 768);
    for (id, e) in ids.iter().zip(events) {
        rows.row()
            .int8(*id)
            .text(&e.topic)
            .int4(e.partition)
            .int8(e.offset)
            .bytea(e.key.as_deref())
            .uuid(e.event_id)
            .text(&e.event_type)
            .text(&e.aggregate_id)
            .opt_int8(e.aggregate_version)
            .timestamptz(e.occurred_at)
            .opt_text(e.source.as_deref())
            .opt_text(e.correlation_id.as_deref())
            .opt_text(e.causation_id.as_deref())
            .jsonb(&e.headers);
        match &e.payload {
            Some(text) => rows.jsonb_text(text.get()),
            None => rows.jsonb(&e.data),
        };
        let (step_at, step_order) = step_columns(e).unzip();
        rows.int4(incarnation(&e.topic, e.partition))
            .opt_timestamptz(step_at)
            .opt_text(step_order.flatten().as_deref());
    }
    rows
}

/// Sends one binary `COPY` body over `conn` (a transaction's, as a rule); returns the rows
/// copied.
pub async fn copy_in(
    conn: &mut sqlx::PgConnection,
    statement: &str,
    rows: CopyRows,
) -> sqlx::Result<u64> {
    let mut copy = conn.copy_in_raw(statement).await?;
    if let Err(e) = copy.send(rows.finish()).await {
        // The server's own error (a refused row) is the one worth reporting.
        return Err(copy.abort("send failed").await.err().unwrap_or(e));
    }
    copy.finish().await
}

/// Rows inserted now, by topic then (partition, offset): their `id`.
type Inserted = HashMap<String, HashMap<(i32, i64), i64>>;

/// The rows of `rows` whose source position is in `done`.
fn keep_inserted<'a, T: Sourced>(rows: &[&'a T], done: &Inserted) -> Vec<&'a T> {
    rows.iter()
        .copied()
        .filter(|r| {
            let (topic, p, o) = r.source();
            done.get(topic).is_some_and(|m| m.contains_key(&(p, o)))
        })
        .collect()
}

fn inserted(rows: Vec<(i64, String, i32, i64)>) -> Inserted {
    let mut map: Inserted = HashMap::new();
    for (id, topic, p, o) in rows {
        map.entry(topic).or_default().insert((p, o), id);
    }
    map
}

/// Inserts quarantined records not stored yet; returns the ones actually inserted.
async fn insert_quarantine<'a>(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[&'a QuarantineRow],
    inc: &Incarnations<'_>,
) -> sqlx::Result<Vec<&'a QuarantineRow>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let done: Vec<(i64, String, i32, i64)> = sqlx::query_as(
        "INSERT INTO quarantine (topic, kafka_partition, kafka_offset, kafka_key, raw_value, headers, reason,
            incarnation)
         SELECT * FROM UNNEST($1::text[], $2::int4[], $3::int8[], $4::bytea[], $5::bytea[], $6::jsonb[], $7::text[],
            $8::int4[])
         ON CONFLICT ON CONSTRAINT quarantine_source_position DO NOTHING
         RETURNING id, topic, kafka_partition, kafka_offset",
    )
    .bind(rows.iter().map(|r| r.topic.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.partition).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.offset).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.key.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.value.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.headers.clone()).collect::<Vec<Value>>())
    .bind(rows.iter().map(|r| r.reason.clone()).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| incarnation(inc, &r.topic, r.partition))
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(keep_inserted(rows, &inserted(done)))
}

/// Inserts dead letters not stored yet; returns the ones actually inserted.
async fn insert_dead_letters<'a>(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[&'a DeadLetterRow],
    inc: &Incarnations<'_>,
) -> sqlx::Result<Vec<&'a DeadLetterRow>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let done: Vec<(i64, String, i32, i64)> = sqlx::query_as(
        "INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, kafka_key, raw_value, headers,
            dialect, original_topic, original_partition, original_offset, exception_type,
            exception_message, failed_at, attempts, replay_count, replay_id, replay_value, order_id,
            parse_note, origin_note, incarnation)
         SELECT * FROM UNNEST($1::text[], $2::int4[], $3::int8[], $4::bytea[], $5::bytea[],
            $6::jsonb[], $7::text[], $8::text[], $9::int4[], $10::int8[], $11::text[], $12::text[],
            $13::timestamptz[], $14::int4[], $15::int4[], $16::text[], $17::bytea[], $18::text[],
            $19::text[], $20::text[], $21::int4[])
         ON CONFLICT ON CONSTRAINT dead_letters_source_position DO NOTHING
         RETURNING id, topic, kafka_partition, kafka_offset",
    )
    .bind(rows.iter().map(|r| r.topic.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.partition).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.offset).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.key.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.value.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.headers.clone()).collect::<Vec<Value>>())
    .bind(rows.iter().map(|r| r.dialect.as_str().to_string()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.original_topic.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.original_partition).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.original_offset).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.exception_type.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.exception_message.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.failed_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.attempts).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.replay_count).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.replay_id.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.replay_value.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.order_id.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.parse_note.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.origin_note.clone()).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| incarnation(inc, &r.topic, r.partition))
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(keep_inserted(rows, &inserted(done)))
}

async fn insert_transitions(
    tx: &mut Transaction<'_, Postgres>,
    fresh: &[(i64, &EventRow)],
) -> sqlx::Result<()> {
    let rows: Vec<(i64, _)> = fresh
        .iter()
        .filter(|(_, e)| e.event_type == switchyard_contract::BREAKER_TRANSITION)
        .filter_map(|(id, e)| Some((*id, transition(e)?)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO breaker_transitions (event_id, service, breaker, from_state, to_state,
            failure_count, success_count, failure_rate, at)
         SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[],
            $7::int8[], $8::float8[], $9::timestamptz[])",
    )
    .bind(rows.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, r)| r.service.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, r)| r.breaker.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, r)| r.from_state.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, r)| r.to_state.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, r)| r.failure_count).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, r)| r.success_count).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, r)| r.failure_rate).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, r)| r.at).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn upsert_breakers(
    tx: &mut Transaction<'_, Postgres>,
    d: &[BreakerDelta],
) -> sqlx::Result<()> {
    if d.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO breakers AS b (service, breaker, state, state_at, failure_rate, slow_call_rate,
            calls, failures, slow_calls, not_permitted, metrics_at)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::float8[],
            $6::float8[], $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::timestamptz[])
         ON CONFLICT (service, breaker) DO UPDATE SET
            state = CASE WHEN EXCLUDED.state_at > b.state_at THEN EXCLUDED.state ELSE b.state END,
            state_at = GREATEST(EXCLUDED.state_at, b.state_at),
            failure_rate = CASE WHEN COALESCE(EXCLUDED.metrics_at > b.metrics_at, EXCLUDED.metrics_at IS NOT NULL)
                THEN EXCLUDED.failure_rate ELSE b.failure_rate END,
            slow_call_rate = CASE WHEN COALESCE(EXCLUDED.metrics_at > b.metrics_at, EXCLUDED.metrics_at IS NOT NULL)
                THEN EXCLUDED.slow_call_rate ELSE b.slow_call_rate END,
            calls = CASE WHEN COALESCE(EXCLUDED.metrics_at > b.metrics_at, EXCLUDED.metrics_at IS NOT NULL)
                THEN EXCLUDED.calls ELSE b.calls END,
            failures = CASE WHEN COALESCE(EXCLUDED.metrics_at > b.metrics_at, EXCLUDED.metrics_at IS NOT NULL)
                THEN EXCLUDED.failures ELSE b.failures END,
            slow_calls = CASE WHEN COALESCE(EXCLUDED.metrics_at > b.metrics_at, EXCLUDED.metrics_at IS NOT NULL)
                THEN EXCLUDED.slow_calls ELSE b.slow_calls END,
            not_permitted = CASE WHEN COALESCE(EXCLUDED.metrics_at > b.metrics_at, EXCLUDED.metrics_at IS NOT NULL)
                THEN EXCLUDED.not_permitted ELSE b.not_permitted END,
            metrics_at = GREATEST(EXCLUDED.metrics_at, b.metrics_at)",
    )
    .bind(d.iter().map(|x| x.service.clone()).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.breaker.clone()).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.state.clone()).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.state_at).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.failure_rate).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.slow_call_rate).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.calls).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.failures).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.slow_calls).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.not_permitted).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.metrics_at).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn upsert_rollups(
    tx: &mut Transaction<'_, Postgres>,
    counts: &BTreeMap<(DateTime<Utc>, String), i64>,
) -> sqlx::Result<()> {
    if counts.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO minute_rollups AS r (minute, kind, count)
         SELECT * FROM UNNEST($1::timestamptz[], $2::text[], $3::int8[])
         ON CONFLICT (minute, kind) DO UPDATE SET count = r.count + EXCLUDED.count",
    )
    .bind(counts.keys().map(|(m, _)| *m).collect::<Vec<_>>())
    .bind(counts.keys().map(|(_, k)| k.clone()).collect::<Vec<_>>())
    .bind(counts.values().copied().collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn upsert_orders(tx: &mut Transaction<'_, Postgres>, d: &[OrderDelta]) -> sqlx::Result<()> {
    if d.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO orders AS o (order_id, customer_id, status, status_rank, status_at, total_cents,
            currency, item_count, failure_reason, created_at, updated_at, event_count, current_step,
            step_status, step_at)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int2[], $5::timestamptz[],
            $6::int8[], $7::text[], $8::int4[], $9::text[], $10::timestamptz[], $11::timestamptz[],
            $12::int4[], $13::text[], $14::text[], $15::timestamptz[])
         ON CONFLICT (order_id) DO UPDATE SET
            customer_id = COALESCE(EXCLUDED.customer_id, o.customer_id),
            total_cents = COALESCE(EXCLUDED.total_cents, o.total_cents),
            currency = COALESCE(EXCLUDED.currency, o.currency),
            item_count = COALESCE(EXCLUDED.item_count, o.item_count),
            created_at = COALESCE(EXCLUDED.created_at, o.created_at),
            failure_reason = COALESCE(EXCLUDED.failure_reason, o.failure_reason),
            status = CASE WHEN (EXCLUDED.status_at, EXCLUDED.status_rank) > (o.status_at, o.status_rank)
                          THEN EXCLUDED.status ELSE o.status END,
            status_rank = CASE WHEN (EXCLUDED.status_at, EXCLUDED.status_rank) > (o.status_at, o.status_rank)
                          THEN EXCLUDED.status_rank ELSE o.status_rank END,
            status_at = GREATEST(EXCLUDED.status_at, o.status_at),
            updated_at = GREATEST(EXCLUDED.updated_at, o.updated_at),
            event_count = o.event_count + EXCLUDED.event_count,
            current_step = CASE WHEN EXCLUDED.step_at >= o.step_at OR o.step_at IS NULL
                THEN COALESCE(EXCLUDED.current_step, o.current_step) ELSE o.current_step END,
            step_status = CASE WHEN EXCLUDED.step_at >= o.step_at OR o.step_at IS NULL
                THEN COALESCE(EXCLUDED.step_status, o.step_status) ELSE o.step_status END,
            step_at = GREATEST(EXCLUDED.step_at, o.step_at)",
    )
    .bind(d.iter().map(|x| x.order_id.clone()).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.customer_id.clone()).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.status.clone()).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.status_rank).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.status_at).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.total_cents).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.currency.clone()).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.item_count).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.failure_reason.clone()).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.created_at).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.updated_at).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.event_count).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.current_step.clone()).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.step_status.clone()).collect::<Vec<_>>())
    .bind(d.iter().map(|x| x.step_at).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn save_positions(
    tx: &mut Transaction<'_, Postgres>,
    group: &str,
    positions: &BTreeMap<(String, i32), Span>,
) -> sqlx::Result<()> {
    if positions.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO consumer_positions AS p (group_id, topic, kafka_partition, next_offset,
             incarnation)
         SELECT $1, * FROM UNNEST($2::text[], $3::int4[], $4::int8[], $5::int4[])
         ON CONFLICT (group_id, topic, kafka_partition) DO UPDATE
            SET next_offset = GREATEST(p.next_offset, EXCLUDED.next_offset), updated_at = now()
            WHERE p.incarnation = EXCLUDED.incarnation AND NOT p.paused",
    )
    .bind(group)
    .bind(
        positions
            .keys()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(positions.keys().map(|(_, p)| *p).collect::<Vec<_>>())
    .bind(positions.values().map(|s| s.next).collect::<Vec<_>>())
    .bind(
        positions
            .values()
            .map(|s| s.incarnation)
            .collect::<Vec<_>>(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The NOTIFY payload: which orders changed (or `more: true` when too many to name) and
/// what the batch stored.
pub fn notify_payload(o: &Outcome, oldest_ms: Option<i64>) -> Value {
    serde_json::json!({
        "oldest_ms": oldest_ms,
        "orders": o.orders_changed.iter().take(NOTIFY_MAX_IDS).collect::<Vec<_>>(),
        "more": o.orders_changed.len() > NOTIFY_MAX_IDS,
        "events": o.stored,
        "dead_letters": o.dead_letters,
        "quarantined": o.quarantined,
    })
}

async fn notify(
    tx: &mut Transaction<'_, Postgres>,
    outcome: &Outcome,
    oldest_ms: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(LIVE_CHANNEL)
        .bind(notify_payload(outcome, oldest_ms).to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A partition's stored position: the incarnation of its log being read, the next
/// offset to store, whether it is paused (an incident waits for an admin), and the id of
/// the topic whose log it is in (KIP-516; none until seen).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub incarnation: i32,
    pub next: i64,
    pub paused: bool,
    pub topic_id: Option<String>,
}

/// The group's stored positions.
pub async fn load_stored(
    pool: &PgPool,
    group: &str,
) -> sqlx::Result<BTreeMap<(String, i32), Stored>> {
    type Row = (String, i32, i32, i64, bool, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT topic, kafka_partition, incarnation, next_offset, paused, topic_id
           FROM consumer_positions WHERE group_id = $1",
    )
    .bind(group)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(t, p, incarnation, next, paused, topic_id)| {
            (
                (t, p),
                Stored {
                    incarnation,
                    next,
                    paused,
                    topic_id,
                },
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_payload_stays_small() {
        let outcome = Outcome {
            orders_changed: (0..1000).map(|i| format!("ORD-{i:06}")).collect(),
            ..Outcome::default()
        };
        let p = notify_payload(&outcome, Some(1)).to_string();
        assert!(p.len() < 8000, "{} bytes", p.len());
        assert!(p.contains("\"more\":true"));
    }
}
