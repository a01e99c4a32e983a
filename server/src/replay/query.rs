//! The dead-letter console's reads: groups by original topic and by error, the filtered
//! list with keyset pagination (newest first; the cursor is the last row's
//! `(failed_at, id)`), one dead letter in full with its replay history and outcomes, and
//! the dry run of a replay.

use super::filter::{push_filter, push_scope, ERROR_LABEL};
use super::view;
use crate::payload::framing;
use crate::payload::registry::{self, Registry};
use chrono::{DateTime, Utc};
use sqlx::{PgPool, QueryBuilder};
use switchyard_app::dlq::*;
use switchyard_app::ops::DeadLetterFilter;
use switchyard_app::states::{DeadLetterStatus, OrderStatus, ReplayStatus};

/// Error groups shown at most.
const MAX_ERROR_GROUPS: i64 = 25;

type GroupRow = (String, i64, i64, DateTime<Utc>, DateTime<Utc>);

fn group((label, count, pending, first_seen, last_seen): GroupRow) -> DeadLetterGroup {
    DeadLetterGroup {
        label,
        count,
        pending,
        first_seen,
        last_seen,
    }
}

async fn group_by(
    pool: &PgPool,
    f: &DeadLetterFilter,
    by: &str,
    limit: i64,
) -> sqlx::Result<Vec<DeadLetterGroup>> {
    let mut q = QueryBuilder::new(format!(
        "SELECT {by}, count(*), count(*) FILTER (WHERE d.status = 'pending'),
                min(d.failed_at), max(d.failed_at)
         FROM dead_letters d WHERE true"
    ));
    push_filter(&mut q, f);
    q.push(" GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ")
        .push_bind(limit);
    let rows: Vec<GroupRow> = q.build_query_as().fetch_all(pool).await?;
    Ok(rows.into_iter().map(group).collect())
}

pub async fn groups(pool: &PgPool, f: &DeadLetterFilter) -> sqlx::Result<DeadLetterGroups> {
    Ok(DeadLetterGroups {
        by_topic: group_by(pool, f, "d.original_topic", 1000).await?,
        by_dlq_topic: group_by(pool, f, "d.topic", 1000).await?,
        by_error: group_by(pool, f, ERROR_LABEL, MAX_ERROR_GROUPS).await?,
    })
}

const ITEM_COLUMNS: &str = "d.id, d.topic, d.original_topic, d.dialect, d.kafka_key, d.order_id,
    COALESCE(d.exception_message, d.exception_type), d.status, d.failed_at, d.replay_count, d.parse_note";

type ItemRow = (
    i64,
    String,
    String,
    String,
    Option<Vec<u8>>,
    Option<String>,
    Option<String>,
    String,
    DateTime<Utc>,
    i32,
    Option<String>,
);

fn item(r: ItemRow) -> DeadLetterItem {
    DeadLetterItem {
        id: r.0,
        dlq_topic: r.1,
        original_topic: r.2,
        dialect: r.3,
        key: r.4.map(|k| String::from_utf8_lossy(&k).into_owned()),
        order_id: r.5,
        error: r.6,
        status: DeadLetterStatus::from_db(&r.7),
        failed_at: r.8,
        replay_count: r.9,
        parse_note: r.10,
    }
}

/// `"<failed_at micros>:<id>"`: where the next page starts.
pub fn cursor(failed_at: DateTime<Utc>, id: i64) -> String {
    format!("{}:{id}", failed_at.timestamp_micros())
}

pub fn parse_cursor(c: &str) -> Option<(DateTime<Utc>, i64)> {
    let (t, id) = c.split_once(':')?;
    Some((
        DateTime::from_timestamp_micros(t.parse().ok()?)?,
        id.parse().ok()?,
    ))
}

pub async fn list(
    pool: &PgPool,
    f: &DeadLetterFilter,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<DeadLetterPage> {
    let limit = limit.clamp(1, MAX_LIST);
    let mut q = QueryBuilder::new(format!(
        "SELECT {ITEM_COLUMNS} FROM dead_letters d WHERE true"
    ));
    push_filter(&mut q, f);
    if let Some((t, id)) = after.and_then(parse_cursor) {
        q.push(" AND (d.failed_at, d.id) < (")
            .push_bind(t)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    q.push(" ORDER BY d.failed_at DESC, d.id DESC LIMIT ")
        .push_bind(limit + 1);
    let mut rows: Vec<DeadLetterItem> = q
        .build_query_as::<ItemRow>()
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(item)
        .collect();
    let next = (rows.len() as i64 > limit).then(|| {
        rows.truncate(limit as usize);
        let last = rows.last().expect("limit >= 1");
        cursor(last.failed_at, last.id)
    });
    Ok(DeadLetterPage { rows, next })
}

type DetailRow = (
    i32,
    i64,
    Option<i32>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i32>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    serde_json::Value,
    Option<String>,
    Option<i64>,
    Option<(String, String, DateTime<Utc>)>,
);

type ReplayRow = (
    uuid::Uuid,
    Option<uuid::Uuid>,
    String,
    String,
    String,
    Option<i32>,
    Option<i64>,
    Option<String>,
    DateTime<Utc>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<Vec<String>>,
);

pub async fn detail(pool: &PgPool, id: i64) -> sqlx::Result<Option<DeadLetterDetail>> {
    detail_with(pool, id, None).await
}

/// [`detail`], with framed payloads (Confluent wire format) read through `registry`.
pub async fn detail_with(
    pool: &PgPool,
    id: i64,
    registry: Option<&Registry>,
) -> sqlx::Result<Option<DeadLetterDetail>> {
    let Some(it) = sqlx::query_as::<_, ItemRow>(&format!(
        "SELECT {ITEM_COLUMNS} FROM dead_letters d WHERE d.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?
    .map(item) else {
        return Ok(None);
    };
    let d: DetailRow = sqlx::query_as(
        "SELECT d.kafka_partition, d.kafka_offset, d.original_partition, d.original_offset,
                d.exception_type, d.exception_message, d.attempts, d.raw_value, d.replay_value,
                d.headers, d.origin_note,
                (SELECT r.dead_letter_id FROM replays r WHERE r.replay_id =
                    CASE WHEN d.replay_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                         THEN d.replay_id::uuid END),
                CASE WHEN d.discarded_at IS NULL THEN NULL
                     ELSE ROW(d.discarded_by, d.discard_reason, d.discarded_at) END
         FROM dead_letters d WHERE d.id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    let replays: Vec<ReplayRow> = sqlx::query_as(
        "SELECT r.replay_id, r.job_id, r.requested_by, r.status, r.target_topic,
                r.target_partition, r.target_offset, r.error, r.created_at,
                (SELECT n.id FROM dead_letters n WHERE n.replay_id = r.replay_id::text
                 ORDER BY n.id LIMIT 1),
                (SELECT e.id FROM events e WHERE e.topic = r.target_topic
                   AND e.kafka_partition = r.target_partition AND e.kafka_offset = r.target_offset
                 ORDER BY e.incarnation DESC LIMIT 1),
                (SELECT o.status FROM orders o WHERE o.order_id = $2),
                (SELECT x.changes FROM replay_edits x WHERE x.replay_id = r.replay_id)
         FROM replays r WHERE r.dead_letter_id = $1 ORDER BY r.created_at, r.replay_id",
    )
    .bind(id)
    .bind(&it.order_id)
    .fetch_all(pool)
    .await?;
    let replays = replays
        .into_iter()
        .map(|r| {
            let status = ReplayStatus::from_db(&r.3);
            let order_status = r.11.as_deref().map(OrderStatus::from_db);
            ReplayView {
                replay_id: r.0.to_string(),
                job_id: r.1.map(|j| j.to_string()),
                requested_by: r.2,
                outcome: outcome(status, r.9, r.10, it.order_id.clone(), order_status),
                status,
                target_topic: r.4,
                target_partition: r.5,
                target_offset: r.6,
                error: r.7,
                created_at: r.8,
                changes: r.12.unwrap_or_default(),
            }
        })
        .collect();
    let Readable {
        payload,
        format: payload_format,
        note: payload_note,
        ..
    } = readable(d.7.as_deref(), registry).await;
    let replay_payload = (d.8 != d.7).then(|| view::payload(d.8.as_deref()));
    Ok(Some(DeadLetterDetail {
        item: it,
        partition: d.0,
        offset: d.1,
        original_partition: d.2,
        original_offset: d.3,
        exception_type: d.4,
        exception_message: d.5,
        attempts: d.6,
        payload,
        payload_format,
        payload_note,
        replay_payload,
        headers: view::headers(&d.9),
        origin_note: d.10,
        replays,
        replayed_from: d.11,
        discarded: d.12.map(|(by, reason, at)| Discarded { by, reason, at }),
    }))
}

/// What happened after a replay, as far as the read model knows.
pub fn outcome(
    status: ReplayStatus,
    came_back_as: Option<i64>,
    consumed_event: Option<i64>,
    order_id: Option<String>,
    order_status: Option<OrderStatus>,
) -> ReplayOutcome {
    use ReplayStatus::{Sending, Sent};
    let label = match (status, came_back_as, order_status) {
        (_, Some(n), _) => format!("failed again: came back as dead letter #{n}"),
        (Sent, None, Some(OrderStatus::Completed)) => "order completed".to_string(),
        (Sent, None, Some(s)) if consumed_event.is_some() => {
            format!("consumed; order is {s}")
        }
        (Sent, None, _) if consumed_event.is_some() => "consumed".to_string(),
        (Sent, None, _) => "sent, awaiting outcome".to_string(),
        (Sending, ..) => "sending".to_string(),
        (other, ..) => format!("not sent ({other})"),
    };
    ReplayOutcome {
        label,
        came_back_as,
        order_id,
        order_status,
    }
}

/// What replaying `scope` would do: counts by target topic and error, what would be
/// parked, what is out of reach and why, and which DLQ topics have a job running.
pub async fn dry_run(pool: &PgPool, scope: &ReplayScope, max_replays: i32) -> sqlx::Result<DryRun> {
    let mut q = QueryBuilder::new(format!(
        "SELECT d.status, d.original_topic, {ERROR_LABEL}, d.replay_count >= "
    ));
    q.push_bind(max_replays)
        .push(", d.topic, count(*) FROM dead_letters d WHERE true");
    push_scope(&mut q, scope);
    q.push(" GROUP BY 1, 2, 3, 4, 5");
    let rows: Vec<(String, String, String, bool, String, i64)> =
        q.build_query_as().fetch_all(pool).await?;
    let mut out = DryRun::default();
    let mut dlq_topics = std::collections::BTreeSet::new();
    let add = |v: &mut Vec<LabelCount>, label: &str, n: i64| match v
        .iter_mut()
        .find(|l| l.label == label)
    {
        Some(l) => l.count += n,
        None => v.push(LabelCount {
            label: label.to_string(),
            count: n,
        }),
    };
    for (status, target, error, over_limit, dlq_topic, n) in rows {
        out.matched += n;
        if DeadLetterStatus::from_db(&status) != DeadLetterStatus::Pending {
            add(&mut out.not_replayable, &status, n);
            continue;
        }
        dlq_topics.insert(dlq_topic);
        if over_limit {
            out.to_park += n;
            continue;
        }
        out.to_send += n;
        add(&mut out.by_target, &target, n);
        add(&mut out.by_error, &error, n);
    }
    for v in [
        &mut out.by_target,
        &mut out.by_error,
        &mut out.not_replayable,
    ] {
        v.sort_by(|a, b| b.count.cmp(&a.count).then(a.label.cmp(&b.label)));
    }
    out.by_error.truncate(MAX_ERROR_GROUPS as usize);
    out.strip_headers = super::headers::default_stripped();
    out.hold_on = super::hold::default_for(out.by_target.iter().map(|t| t.label.as_str()));
    out.holding_now = super::hold::holding_among(pool, &out.hold_on)
        .await?
        .map(|h| h.say());
    out.busy_topics = sqlx::query_scalar(
        "SELECT dlq_topic FROM replay_job_topics WHERE active AND dlq_topic = ANY($1) ORDER BY 1",
    )
    .bind(dlq_topics.into_iter().collect::<Vec<_>>())
    .fetch_all(pool)
    .await?;
    Ok(out)
}

/// A stored value as a person reads it (not yet masked).
pub struct Readable {
    pub payload: Payload,
    /// How a framed value was decoded ("avro, schema 7").
    pub format: Option<String>,
    /// Why a value that looks framed is shown raw.
    pub note: Option<String>,
    /// False when the registry could not be asked: reading again later may decode it.
    pub settled: bool,
}

/// The stored value for reading: a framed one (Confluent wire format) decoded with the
/// registry's schema, with its format, or shown raw with the reason; anything else as
/// [`view::payload`] shows it.
pub async fn readable(bytes: Option<&[u8]>, registry: Option<&Registry>) -> Readable {
    let raw = |note: Option<String>, settled: bool| Readable {
        payload: view::payload(bytes),
        format: None,
        note,
        settled,
    };
    let Some(framed) = bytes.and_then(framing::framed) else {
        return raw(None, true);
    };
    let id = framed.schema_id;
    let Some(registry) = registry else {
        let note = format!(
            "starts like the Schema Registry's wire format (schema {id}); set SWITCHYARD_SCHEMA_REGISTRY_URL to decode it"
        );
        return raw(Some(note), true);
    };
    match crate::payload::read_framed(registry, framed).await {
        Ok(read) => Readable {
            payload: Payload::Json(serde_json::to_string_pretty(&read.json).unwrap_or_default()),
            format: Some(format!("{}, schema {}", read.format, read.schema_id)),
            note: None,
            settled: true,
        },
        Err(why) => {
            let settled = !why.contains(registry::UNAVAILABLE);
            raw(Some(format!("shown raw: {why}")), settled)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let t = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        assert_eq!(parse_cursor(&cursor(t, 42)), Some((t, 42)));
        assert_eq!(parse_cursor("junk"), None);
        assert_eq!(parse_cursor("1:x"), None);
    }

    #[test]
    fn outcomes_prefer_what_happened_last() {
        use ReplayStatus::{Cancelled, Sent};
        let completed = Some(OrderStatus::Completed);
        assert_eq!(
            outcome(Sent, Some(9), Some(1), None, completed).label,
            "failed again: came back as dead letter #9"
        );
        assert_eq!(
            outcome(Sent, None, Some(1), None, completed).label,
            "order completed"
        );
        assert_eq!(
            outcome(Sent, None, Some(1), None, Some(OrderStatus::Failed)).label,
            "consumed; order is failed"
        );
        assert_eq!(
            outcome(Sent, None, None, None, None).label,
            "sent, awaiting outcome"
        );
        assert_eq!(
            outcome(Cancelled, None, None, None, None).label,
            "not sent (cancelled)"
        );
    }
}
