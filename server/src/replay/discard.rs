//! Discarding dead letters: an operator decides a message will never be replayed. A reason
//! is required; it is kept with the dead letter and in the audit row written in the same
//! transaction. Only pending, parked and failed-again dead letters can be discarded (one
//! being replayed cannot).

use super::job::{JobError, MAX_IDS};
use crate::audit::{self, Actor};
use serde_json::json;
use sqlx::PgPool;

pub const MAX_REASON: usize = 1000;

/// Discards `ids`; returns how many were discarded (the rest were not discardable).
pub async fn discard(
    pool: &PgPool,
    actor: &Actor,
    ids: &[i64],
    reason: &str,
) -> Result<u64, JobError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(JobError::Refused("a reason is required to discard".into()));
    }
    if reason.chars().count() > MAX_REASON {
        return Err(JobError::Refused(format!(
            "the reason is longer than {MAX_REASON} characters"
        )));
    }
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(JobError::Refused(format!(
            "discard 1 to {MAX_IDS} dead letters at once"
        )));
    }
    let mut tx = pool.begin().await?;
    let done: Vec<i64> = sqlx::query_scalar(
        "UPDATE dead_letters SET status = 'discarded', discarded_by = $2, discard_reason = $3,
                discarded_at = now()
         WHERE id = ANY($1) AND status IN ('pending', 'parked', 'failed_again')
         RETURNING id",
    )
    .bind(ids)
    .bind(&actor.name)
    .bind(reason)
    .fetch_all(&mut *tx)
    .await?;
    if !done.is_empty() {
        let target = match done.as_slice() {
            [one] => one.to_string(),
            many => format!("{} dead letters", many.len()),
        };
        audit::record(
            &mut *tx,
            actor,
            "discard",
            Some(&target),
            json!({ "dead_letter_ids": done, "reason": reason }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(done.len() as u64)
}
