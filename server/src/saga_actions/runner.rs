//! The batch runner: sends the commands of running saga-command batches, one batch at a
//! time per console, under a lease on the batch row (a console that dies mid-batch leaves
//! a lease that lapses; the next runner — another console, or this one restarted — takes
//! the batch over and sends what is not marked sent).
//!
//! A round: lock the batch row (a cancel waits for it, so it lands between rounds), check
//! it still runs and writes are on, renew the lease, take the next unsent commands, publish
//! them, mark the delivered ones sent, commit. A crash between a delivery and its mark
//! sends that command again after the takeover with the same command id, which the fleet's
//! order service answers again without applying it twice. The throttle paces rounds to at
//! most `throttle` commands a second.

use serde_json::json;
use sqlx::PgPool;
use std::time::{Duration, Instant};
use switchyard_contract::kafka::renewing::RenewingProducer;
use switchyard_contract::saga_command::{Action, SagaCommand, Status};
use tokio::sync::watch;
use uuid::Uuid;

/// Commands a round sends at most (fewer when throttled below it).
const ROUND: i64 = 100;

pub struct Runner {
    pool: PgPool,
    producer: RenewingProducer,
    lease: Duration,
    me: Uuid,
}

type Item = (
    Uuid,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
);

impl Runner {
    pub fn new(pool: PgPool, brokers: &str, lease: Duration) -> anyhow::Result<Runner> {
        Ok(Runner {
            pool,
            producer: RenewingProducer::new(brokers)?,
            lease,
            me: Uuid::new_v4(),
        })
    }

    /// Takes over running batches whose lease lapsed and sends them, until `stop`.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            match self.lease_one().await {
                Ok(Some((id, throttle))) => {
                    if let Err(e) = self.drive(id, throttle, &mut stop).await {
                        tracing::warn!(batch = %id, error = %e, "saga command batch interrupted; taken up again when its lease lapses");
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot look for saga command batches"),
            }
            if *stop.borrow() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    async fn lease_one(&self) -> sqlx::Result<Option<(Uuid, i32)>> {
        sqlx::query_as(
            "UPDATE saga_command_batches
                SET lease_owner = $1, lease_until = now() + make_interval(secs => $2)
              WHERE id = (SELECT id FROM saga_command_batches
                           WHERE status = 'running' AND (lease_until IS NULL OR lease_until < now())
                           ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING id, throttle",
        )
        .bind(self.me)
        .bind(self.lease.as_secs_f64())
        .fetch_optional(&self.pool)
        .await
    }

    /// Sends batch `id` round by round until it is done, cancelled or its lease is lost.
    async fn drive(
        &self,
        id: Uuid,
        throttle: i32,
        stop: &mut watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let per_round = if throttle > 0 {
            i64::from(throttle).min(ROUND)
        } else {
            ROUND
        };
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let begun = Instant::now();
            let sent = match self.round(id, per_round).await? {
                Round::Sent(n) => n,
                Round::Paused => {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stop.wait_for(|s| *s) => return Ok(()),
                    }
                    continue;
                }
                Round::Over => return Ok(()),
            };
            if throttle > 0 {
                let due = Duration::from_secs_f64(sent as f64 / f64::from(throttle));
                if let Some(rest) = due.checked_sub(begun.elapsed()) {
                    tokio::select! {
                        _ = tokio::time::sleep(rest) => {}
                        _ = stop.wait_for(|s| *s) => return Ok(()),
                    }
                }
            }
        }
    }

    async fn round(&self, id: Uuid, limit: i64) -> anyhow::Result<Round> {
        let mut tx = self.pool.begin().await?;
        let row: Option<(String, bool)> = sqlx::query_as(
            "SELECT status, NOT EXISTS (SELECT 1 FROM settings WHERE key = 'writes_enabled'
                                          AND value = 'false'::jsonb)
               FROM saga_command_batches WHERE id = $1 AND lease_owner = $2 FOR UPDATE",
        )
        .bind(id)
        .bind(self.me)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((status, writes_on)) = row else {
            return Ok(Round::Over); // taken over by another runner
        };
        if status != "running" {
            return Ok(Round::Over);
        }
        let note = (!writes_on).then_some("waiting: writes are switched off by an admin");
        sqlx::query(
            "UPDATE saga_command_batches
                SET lease_until = now() + make_interval(secs => $2), note = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(self.lease.as_secs_f64())
        .bind(note)
        .execute(&mut *tx)
        .await?;
        if !writes_on {
            tx.commit().await?;
            return Ok(Round::Paused);
        }
        let items: Vec<Item> = sqlx::query_as(
            "SELECT command_id, order_id, action, step, phase, reason, requested_by
               FROM saga_commands
              WHERE batch_id = $1 AND sent_at IS NULL AND cancelled_at IS NULL
              ORDER BY command_id LIMIT $2",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if items.is_empty() {
            sqlx::query(
                "UPDATE saga_command_batches SET status = 'completed', finished_at = now(),
                        note = NULL WHERE id = $1",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            crate::audit::record(
                &mut *tx,
                &crate::audit::Actor::new("switchyard", "batch runner"),
                "saga_command_batch_completed",
                Some(&id.to_string()),
                json!({}),
            )
            .await?;
            tx.commit().await?;
            tracing::info!(batch = %id, "saga command batch completed");
            return Ok(Round::Over);
        }
        let commands: Vec<SagaCommand> = items
            .into_iter()
            .filter_map(|(command_id, order_id, action, step, phase, reason, by)| {
                Some(SagaCommand {
                    command_id,
                    order_id,
                    action: Action::parse(&action)?,
                    step,
                    phase,
                    reason,
                    requested_by: by,
                    status: Status::Requested,
                    detail: None,
                })
            })
            .collect();
        let envelopes: Vec<_> = commands.iter().map(SagaCommand::request).collect();
        let results =
            futures::future::join_all(envelopes.iter().map(|e| self.producer.publish(e))).await;
        let mut delivered = Vec::new();
        let mut failure = None;
        for (c, r) in commands.iter().zip(results) {
            match r {
                Ok(_) => delivered.push(c.command_id),
                Err(e) => failure = Some(e.to_string()),
            }
        }
        sqlx::query(
            "UPDATE saga_commands SET sent_at = now() WHERE command_id = ANY($1) AND sent_at IS NULL",
        )
        .bind(&delivered)
        .execute(&mut *tx)
        .await?;
        if let Some(e) = &failure {
            self.producer.renew_if_fatal();
            sqlx::query("UPDATE saga_command_batches SET note = $2 WHERE id = $1")
                .bind(id)
                .bind(format!("the broker refused a command; trying again: {e}"))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        if failure.is_some() {
            return Ok(Round::Paused);
        }
        Ok(Round::Sent(delivered.len()))
    }
}

enum Round {
    Sent(usize),
    /// Nothing sent this round (writes off, the broker refusing): try again in a second.
    Paused,
    /// Completed, cancelled, or no longer this runner's.
    Over,
}
