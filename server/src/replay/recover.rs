//! After a crash (or a delivery error), some replays are left `sending`: claimed, maybe
//! produced, never settled. Each recorded the target partitions' high watermarks before it
//! was claimed, so whatever it sent lies after them: read from there to the end, look for
//! its `x-replay-id`. Found → it was sent, at that offset. Not found → it was not, and may
//! be sent again. This is what keeps a replay from going out twice after `kill -9`.

use super::claim::Sent;
use super::watermarks::{marks_from_json, Lookup, Watermarks};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Where a `sending` replay was found, if it was.
pub async fn find_one(
    pool: &PgPool,
    marks: &Watermarks,
    replay_id: Uuid,
) -> anyhow::Result<Option<(i32, i64)>> {
    let row: Option<(String, Option<Value>)> =
        sqlx::query_as("SELECT target_topic, marks FROM replays WHERE replay_id = $1")
            .bind(replay_id)
            .fetch_optional(pool)
            .await?;
    let Some((topic, Some(m))) = row else {
        return Ok(None);
    };
    let found = marks
        .find(vec![Lookup {
            replay_id,
            topic,
            marks: marks_from_json(&m),
        }])
        .await?;
    Ok(found.get(&replay_id).copied())
}

/// The fate of a set of `sending` replays.
#[derive(Debug, Default)]
pub struct Resolved {
    pub sent: Vec<Sent>,
    /// Replay id and dead letter of each replay that never reached the broker.
    pub unsent: Vec<(Uuid, i64)>,
}

type Pending = (Uuid, i64, String, Option<Value>);

/// Resolves the `sending` replays of `job` (or, with `None`, those outside any job older
/// than `min_age_secs`), locking them for the caller's transaction.
pub async fn resolve_sending(
    conn: &mut PgConnection,
    marks: &Watermarks,
    job: Option<Uuid>,
    min_age_secs: i64,
) -> anyhow::Result<Resolved> {
    let rows: Vec<Pending> = sqlx::query_as(
        "SELECT replay_id, dead_letter_id, target_topic, marks FROM replays
         WHERE status = 'sending'
           AND job_id IS NOT DISTINCT FROM $1
           AND ($1 IS NOT NULL OR created_at < now() - make_interval(secs => $2))
         ORDER BY replay_id FOR UPDATE SKIP LOCKED",
    )
    .bind(job)
    .bind(min_age_secs as f64)
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(Resolved::default());
    }
    let lookups = rows
        .iter()
        .filter_map(|(id, _, topic, m)| {
            Some(Lookup {
                replay_id: *id,
                topic: topic.clone(),
                marks: marks_from_json(m.as_ref()?),
            })
        })
        .collect();
    let found = marks.find(lookups).await?;
    let mut out = Resolved::default();
    for (replay_id, dead_letter_id, _, _) in rows {
        match found.get(&replay_id) {
            Some((partition, offset)) => out.sent.push(Sent {
                replay_id,
                dead_letter_id,
                partition: *partition,
                offset: *offset,
            }),
            None => out.unsent.push((replay_id, dead_letter_id)),
        }
    }
    tracing::info!(
        ?job,
        sent = out.sent.len(),
        unsent = out.unsent.len(),
        "resolved replays left sending"
    );
    Ok(out)
}
