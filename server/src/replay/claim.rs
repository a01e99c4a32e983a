//! Claiming dead letters for a replay and settling what became of the send: the one place
//! that decides whether a dead letter may go out, shared by "replay one" and jobs.
//!
//! Claim, in the caller's transaction: lock the dead letters (by id, so concurrent claims
//! cannot deadlock), refuse what is not pending, park what was replayed too often, record
//! the target topic's high watermarks, and insert a `sending` replay per dead letter —
//! the unique live-replay index turns a concurrent second claim into "already replayed".
//! Only after this commits may anything be produced.

use super::edit::Edit;
use super::watermarks::{marks_json, Watermarks};
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::{BTreeSet, HashMap, HashSet};
use switchyard_app::states::{DeadLetterStatus, ReplayStatus};
use switchyard_contract::topic_selection::looks_like_dead_letter_topic;
use uuid::Uuid;

/// A dead letter claimed for sending: everything the producer needs.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub dead_letter_id: i64,
    pub replay_id: Uuid,
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Value,
    /// Its replay count before this replay.
    pub previous_count: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Someone already replayed (or is replaying) it.
    AlreadyReplayed,
    /// Replayed too often already: parked now, not sent.
    Parked,
    /// Discarded, parked, superseded or missing.
    NotReplayable(String),
}

#[derive(Debug, Default)]
pub struct Claim {
    pub claimed: Vec<Claimed>,
    pub refused: Vec<(i64, Refused)>,
}

type Row = (
    i64,
    String,
    String,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Value,
    i32,
);

/// Claims `ids` for replay by `by` (see the module doc). The caller commits.
///
/// A single replay marks its dead letter `replaying` while it is in flight; a job does not
/// (its items say `sending`), which saves rewriting every dead letter twice per batch. The
/// live-replay index, not that status, is what keeps a second claim out.
pub async fn claim(
    conn: &mut PgConnection,
    marks: &Watermarks,
    ids: &[i64],
    by: &str,
    job_id: Option<Uuid>,
    max_replays: i32,
    edit: Option<&Edit>,
) -> anyhow::Result<Claim> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, status, original_topic, kafka_key, replay_value, headers, replay_count
         FROM dead_letters WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Claim::default();
    let found: HashSet<i64> = rows.iter().map(|r| r.0).collect();
    for id in ids.iter().filter(|id| !found.contains(id)) {
        out.refused
            .push((*id, Refused::NotReplayable("no such dead letter".into())));
    }
    let mut to_park = Vec::new();
    let mut candidates = Vec::new();
    for (id, status, topic, key, value, headers, count) in rows {
        use DeadLetterStatus::{Discarded, FailedAgain, Parked, Pending, Replayed, Replaying};
        // Exact: a status this build does not know is refused under its own name.
        let refused = match status.parse::<DeadLetterStatus>() {
            Ok(Replaying | Replayed) => Some(Refused::AlreadyReplayed),
            // An edited copy names its topic: where the dead letter came from does not matter.
            Ok(Pending) if edit.is_none() && looks_like_dead_letter_topic(&topic) => {
                Some(Refused::NotReplayable(format!(
                    "original topic {topic} is itself a dead-letter topic: no header names where it came from"
                )))
            }
            Ok(Pending) if count >= max_replays => {
                to_park.push(id);
                Some(Refused::Parked)
            }
            Ok(Pending) => None,
            Ok(FailedAgain) => Some(Refused::NotReplayable(
                "it failed again and came back as a new dead letter: replay that one".into(),
            )),
            Ok(Parked | Discarded) | Err(_) => {
                Some(Refused::NotReplayable(format!("dead letter is {status}")))
            }
        };
        match (refused, edit) {
            (Some(r), _) => out.refused.push((id, r)),
            (None, None) => candidates.push(Claimed {
                dead_letter_id: id,
                replay_id: Uuid::now_v7(),
                topic,
                key,
                value,
                headers,
                previous_count: count,
            }),
            (None, Some(e)) => candidates.push(Claimed {
                dead_letter_id: id,
                replay_id: Uuid::now_v7(),
                topic: e.topic.clone(),
                key,
                value: e.value.clone(),
                headers: e.headers.clone(),
                previous_count: count,
            }),
        }
    }
    if !to_park.is_empty() {
        sqlx::query("UPDATE dead_letters SET status = 'parked' WHERE id = ANY($1)")
            .bind(&to_park)
            .execute(&mut *conn)
            .await?;
    }
    if candidates.is_empty() {
        return Ok(out);
    }

    let topics: BTreeSet<String> = candidates.iter().map(|c| c.topic.clone()).collect();
    let high = marks.high(topics.into_iter().collect()).await?;
    let (candidates, missing): (Vec<Claimed>, Vec<Claimed>) = candidates
        .into_iter()
        .partition(|c| high.contains_key(&c.topic));
    for c in missing {
        out.refused.push((
            c.dead_letter_id,
            Refused::NotReplayable(format!("original topic {} does not exist", c.topic)),
        ));
    }
    if candidates.is_empty() {
        return Ok(out);
    }
    let inserted: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO replays (replay_id, dead_letter_id, requested_by, status, target_topic, job_id, marks)
         SELECT u.replay_id, u.dead_letter_id, $3, 'sending', u.topic, $4, u.marks
         FROM UNNEST($1::uuid[], $2::int8[], $5::text[], $6::jsonb[])
              AS u (replay_id, dead_letter_id, topic, marks)
         ON CONFLICT DO NOTHING
         RETURNING dead_letter_id",
    )
    .bind(candidates.iter().map(|c| c.replay_id).collect::<Vec<_>>())
    .bind(candidates.iter().map(|c| c.dead_letter_id).collect::<Vec<_>>())
    .bind(by)
    .bind(job_id)
    .bind(candidates.iter().map(|c| c.topic.clone()).collect::<Vec<_>>())
    .bind(
        candidates
            .iter()
            .map(|c| marks_json(&high[&c.topic]))
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *conn)
    .await?;
    let inserted: HashSet<i64> = inserted.into_iter().collect();
    if job_id.is_none() {
        sqlx::query("UPDATE dead_letters SET status = 'replaying' WHERE id = ANY($1)")
            .bind(inserted.iter().copied().collect::<Vec<_>>())
            .execute(&mut *conn)
            .await?;
    }
    for c in candidates {
        if inserted.contains(&c.dead_letter_id) {
            out.claimed.push(c);
        } else {
            out.refused
                .push((c.dead_letter_id, Refused::AlreadyReplayed));
        }
    }
    Ok(out)
}

/// Locks dead letters in id order. Everything that changes a replay locks its dead letter
/// first (the claim does too), so a settle and a concurrent "replay one" queue on the dead
/// letter instead of deadlocking over the replay row and the dead-letter row.
async fn lock_dead_letters(conn: &mut PgConnection, ids: &[i64]) -> sqlx::Result<()> {
    sqlx::query("SELECT 1 FROM dead_letters WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(ids)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A replay the broker acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub replay_id: Uuid,
    pub dead_letter_id: i64,
    pub partition: i32,
    pub offset: i64,
}

/// Records acknowledged replays: the replay gets its position, the dead letter becomes
/// `replayed` (unless it already came back as `failed_again`).
pub async fn settle_sent(conn: &mut PgConnection, sent: &[Sent]) -> sqlx::Result<()> {
    if sent.is_empty() {
        return Ok(());
    }
    lock_dead_letters(
        conn,
        &sent.iter().map(|s| s.dead_letter_id).collect::<Vec<_>>(),
    )
    .await?;
    sqlx::query(
        "UPDATE replays r SET status = 'sent', target_partition = u.p, target_offset = u.o,
                finished_at = now()
         FROM UNNEST($1::uuid[], $2::int4[], $3::int8[]) AS u (id, p, o)
         WHERE r.replay_id = u.id",
    )
    .bind(sent.iter().map(|s| s.replay_id).collect::<Vec<_>>())
    .bind(sent.iter().map(|s| s.partition).collect::<Vec<_>>())
    .bind(sent.iter().map(|s| s.offset).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE dead_letters SET status = 'replayed'
         WHERE id = ANY($1) AND status IN ('replaying', 'pending')",
    )
    .bind(sent.iter().map(|s| s.dead_letter_id).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records replays that were certainly not sent (`failed`, `cancelled` or `unsent`): their
/// dead letters are pending again. Returns replay id → dead letter id of those settled.
pub async fn settle_unsent(
    conn: &mut PgConnection,
    replay_ids: &[Uuid],
    status: ReplayStatus,
    error: &str,
) -> sqlx::Result<HashMap<Uuid, i64>> {
    if replay_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let dead: Vec<i64> =
        sqlx::query_scalar("SELECT dead_letter_id FROM replays WHERE replay_id = ANY($1)")
            .bind(replay_ids)
            .fetch_all(&mut *conn)
            .await?;
    lock_dead_letters(conn, &dead).await?;
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "UPDATE replays SET status = $2, error = $3, finished_at = now()
         WHERE replay_id = ANY($1) AND status = 'sending'
         RETURNING replay_id, dead_letter_id",
    )
    .bind(replay_ids)
    .bind(status.as_str())
    .bind(error)
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE dead_letters SET status = 'pending' WHERE id = ANY($1) AND status = 'replaying'",
    )
    .bind(rows.iter().map(|r| r.1).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(rows.into_iter().collect())
}
