//! Replaying one dead letter now, outside any job (the detail page's button, the
//! `switchyard replay` command, an operator's edited copy): claim, send, settle — with the audit row in the settling
//! transaction, so the log names the resulting offset.

use super::claim::{claim, settle_sent, settle_unsent, Refused, Sent};
use super::edit::Edit;
use super::headers::DEFAULT_STRIPPED;
use super::recover;
use super::send::{delivered, enqueue};
use super::watermarks::Watermarks;
use crate::audit::{self, Actor};
use rdkafka::producer::FutureProducer;
use serde_json::json;
use sqlx::PgPool;
use switchyard_app::states::ReplayStatus;
use uuid::Uuid;

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
    /// Discarded, parked, superseded or missing.
    NotReplayable(String),
}

/// Replays one dead letter (sent once however often asked; parked past `max_replays`).
pub async fn replay_one(
    pool: &PgPool,
    producer: &FutureProducer,
    marks: &Watermarks,
    dead_letter_id: i64,
    actor: &Actor,
    max_replays: i32,
) -> anyhow::Result<Replayed> {
    replay_with(
        pool,
        producer,
        marks,
        dead_letter_id,
        actor,
        max_replays,
        None,
    )
    .await
}

/// Sends an operator's edited copy of a dead letter ([`super::edit`]) as its replay: the
/// same once-only claim, send and settle, with the edit recorded beside the replay.
pub async fn send_edited(
    pool: &PgPool,
    producer: &FutureProducer,
    marks: &Watermarks,
    dead_letter_id: i64,
    actor: &Actor,
    max_replays: i32,
    edit: &Edit,
) -> anyhow::Result<Replayed> {
    replay_with(
        pool,
        producer,
        marks,
        dead_letter_id,
        actor,
        max_replays,
        Some(edit),
    )
    .await
}

async fn replay_with(
    pool: &PgPool,
    producer: &FutureProducer,
    marks: &Watermarks,
    dead_letter_id: i64,
    actor: &Actor,
    max_replays: i32,
    edit: Option<&Edit>,
) -> anyhow::Result<Replayed> {
    let target = dead_letter_id.to_string();
    let mut tx = pool.begin().await?;
    let mut c = claim(
        &mut tx,
        marks,
        &[dead_letter_id],
        &actor.name,
        None,
        max_replays,
        edit,
    )
    .await?;
    if let Some((_, refused)) = c.refused.pop() {
        if refused == Refused::Parked {
            audit::record(
                &mut *tx,
                actor,
                "park",
                Some(&target),
                json!({ "dead_letter_id": dead_letter_id, "why": "replay limit reached" }),
            )
            .await?;
        }
        tx.commit().await?;
        return Ok(match refused {
            Refused::AlreadyReplayed => Replayed::AlreadyReplayed,
            Refused::Parked => Replayed::Parked,
            Refused::NotReplayable(why) => Replayed::NotReplayable(why),
        });
    }
    tx.commit().await?;
    let Some(claimed) = c.claimed.pop() else {
        anyhow::bail!("claim of dead letter {dead_letter_id} returned nothing");
    };

    let result = match enqueue(producer, &claimed, DEFAULT_STRIPPED, &actor.name).await {
        Ok(f) => delivered(f).await,
        Err(e) => Err(e.to_string()),
    };
    // A delivery error may hide a message that did reach the broker: look for it from
    // the recorded marks rather than guess.
    let result = match result {
        Ok(position) => Ok(position),
        Err(e) => match recover::find_one(pool, marks, claimed.replay_id).await? {
            Some(position) => Ok(position),
            None => Err(e),
        },
    };
    let mut tx = pool.begin().await?;
    match result {
        Ok((partition, offset)) => {
            settle_sent(
                &mut tx,
                &[Sent {
                    replay_id: claimed.replay_id,
                    dead_letter_id,
                    partition,
                    offset,
                }],
            )
            .await?;
            let mut detail = json!({
                "dead_letter_id": dead_letter_id,
                "replay_id": claimed.replay_id,
                "topic": claimed.topic,
                "partition": partition,
                "offset": offset,
            });
            if let Some(e) = edit {
                sqlx::query("INSERT INTO replay_edits (replay_id, changes) VALUES ($1, $2)")
                    .bind(claimed.replay_id)
                    .bind(&e.changes)
                    .execute(&mut *tx)
                    .await?;
                detail["changes"] = json!(e.changes);
            }
            let action = if edit.is_some() {
                "replay_edited"
            } else {
                "replay"
            };
            audit::record(&mut *tx, actor, action, Some(&target), detail).await?;
            tx.commit().await?;
            Ok(Replayed::Sent {
                replay_id: claimed.replay_id,
                topic: claimed.topic,
                partition,
                offset,
            })
        }
        Err(e) => {
            settle_unsent(&mut tx, &[claimed.replay_id], ReplayStatus::Failed, &e).await?;
            audit::record(
                &mut *tx,
                actor,
                "replay_failed",
                Some(&target),
                json!({ "dead_letter_id": dead_letter_id, "replay_id": claimed.replay_id, "error": e }),
            )
            .await?;
            tx.commit().await?;
            anyhow::bail!("replay of dead letter {dead_letter_id} failed: {e}")
        }
    }
}
