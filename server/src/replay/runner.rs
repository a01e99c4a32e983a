//! The job runner: started by `serve` (one per console instance), it leases running jobs
//! and sends their items in batches. Per batch, in order:
//!
//! 1. one transaction claims the next items ([`super::claim`]: dead letters locked, the
//!    target partitions' high watermarks recorded with each replay, items `sending`);
//! 2. the messages are produced (throttled when asked), stopping at once on cancel;
//! 3. one transaction settles them: positions, dead-letter statuses, item statuses,
//!    progress counts, an audit row naming every resulting offset, and a NOTIFY.
//!
//! A job whose breakers are not closed holds before each batch ([`super::hold`]) and
//! resumes by itself when they close.
//!
//! While an admin has writes switched off (the kill-switch), no job is leased and a running
//! one stops after the message in flight, to resume when writes are back on.
//!
//! A runner that dies between 1 and 3 leaves items `sending`; whichever runner takes the
//! job next (after the lease runs out) first resolves them from the recorded watermarks
//! ([`super::recover`]), so nothing is sent twice and nothing is lost.

use super::claim::{claim, settle_sent, settle_unsent, Claimed, Refused, Sent};
use super::hold;
use super::job::{notify, refresh_counts, release_topics};
use super::recover::{resolve_sending, Resolved};
use super::send::{delivered, enqueue};
use super::watermarks::{Lookup, Watermarks};
use crate::audit::{self, Actor};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use std::time::{Duration, Instant};
use switchyard_app::states::{JobStatus, ReplayStatus};
use switchyard_contract::kafka::renewing::RenewingProducer;
use tokio::sync::watch;
use uuid::Uuid;

/// Replays outside any job left `sending` this long are resolved by the runner (longer
/// than the producer's message timeout, so a live request has settled by then).
const ORPHAN_AGE_SECS: i64 = 60;

/// How often a held job looks at its breakers again.
const HOLD_RECHECK: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Runner {
    pool: PgPool,
    producer: RenewingProducer,
    marks: Watermarks,
    owner: Uuid,
    lease: Duration,
    batch_max: usize,
}

#[derive(Clone, Debug)]
struct Job {
    id: Uuid,
    status: JobStatus,
    throttle: i32,
    strip: Vec<String>,
    max_replays: i32,
    actor: Actor,
}

enum Next {
    Batch(Vec<Claimed>),
    /// No item left pending.
    Done,
    /// The job is no longer running (cancelled).
    Stopped,
}

/// What a job's breakers say before a batch.
enum Hold {
    /// One is not closed: wait and look again.
    Waiting,
    /// All are closed (or unknown): send.
    Clear,
    /// The job waits on no breaker: send, and stop looking.
    Never,
}

/// Why sending stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Halt {
    Go,
    /// An operator cancelled the job: unsent items are cancelled.
    Cancelled,
    /// This runner is stopping or lost its lease: unsent items wait for the next runner.
    Interrupted,
}

impl Runner {
    pub fn new(
        pool: PgPool,
        brokers: &str,
        lease: Duration,
        batch_max: usize,
    ) -> anyhow::Result<Self> {
        Ok(Runner {
            pool,
            producer: RenewingProducer::new(brokers)?,
            marks: Watermarks::new(brokers)?,
            owner: Uuid::now_v7(),
            lease,
            batch_max: batch_max.max(1),
        })
    }

    /// Runs until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut orphans_checked: Option<Instant> = None;
        while !*stop.borrow() {
            if orphans_checked.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                orphans_checked = Some(Instant::now());
                if let Err(e) = self.resolve_orphans().await {
                    tracing::warn!(error = %e, "could not resolve replays left sending");
                }
            }
            let pause = match self.lease_job().await {
                Ok(Some(job)) => match self.drive(job, stop.clone()).await {
                    Ok(()) => Duration::ZERO,
                    Err(e) => {
                        tracing::warn!(error = %e, "replay job interrupted; retrying");
                        Duration::from_secs(1)
                    }
                },
                Ok(None) => Duration::from_millis(200),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot look for replay jobs");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Takes the oldest job that needs a runner and has no live one.
    async fn lease_job(&self) -> sqlx::Result<Option<Job>> {
        type Row = (Uuid, String, i32, Vec<String>, i32, String, Option<String>);
        let row: Option<Row> = sqlx::query_as(
            "UPDATE replay_jobs SET lease_owner = $1, lease_until = now() + make_interval(secs => $2)
             WHERE id = (
                SELECT j.id FROM replay_jobs j
                WHERE (j.status = 'running' OR (j.status = 'cancelled' AND EXISTS (
                        SELECT 1 FROM replay_job_items i WHERE i.job_id = j.id AND i.status = 'sending')))
                  AND (j.lease_until IS NULL OR j.lease_until < now() OR j.lease_owner = $1)
                  AND NOT EXISTS (SELECT 1 FROM settings
                                  WHERE key = 'writes_enabled' AND value = 'false'::jsonb)
                ORDER BY j.created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING id, status, throttle, strip_headers, max_replays, created_by, created_from",
        )
        .bind(self.owner)
        .bind(self.lease.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Job {
            id: r.0,
            status: JobStatus::from_db(&r.1),
            throttle: r.2,
            strip: r.3,
            max_replays: r.4,
            actor: Actor::new(r.5, r.6.unwrap_or_else(|| "job".into())),
        }))
    }

    /// Renews the lease every 200 ms and reports cancellation or a lost lease.
    fn watch_job(&self, job: Uuid, mut stop: watch::Receiver<bool>) -> watch::Receiver<Halt> {
        let (tx, rx) = watch::channel(Halt::Go);
        let (pool, owner, lease) = (self.pool.clone(), self.owner, self.lease);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => {}
                    _ = tx.closed() => return,
                }
                if *stop.borrow() {
                    let _ = tx.send(Halt::Interrupted);
                    return;
                }
                // A job pauses (as if interrupted) while an admin has writes switched off.
                let status: Result<Option<String>, _> = sqlx::query_scalar(
                    "UPDATE replay_jobs SET lease_until = now() + make_interval(secs => $3)
                     WHERE id = $1 AND lease_owner = $2
                     RETURNING CASE WHEN EXISTS (SELECT 1 FROM settings WHERE key = 'writes_enabled'
                                                 AND value = 'false'::jsonb)
                                    THEN 'paused' ELSE status END",
                )
                .bind(job)
                .bind(owner)
                .bind(lease.as_secs_f64())
                .fetch_optional(&pool)
                .await;
                match status {
                    Ok(Some(s)) if s == "paused" => {
                        let _ = tx.send(Halt::Interrupted);
                        return;
                    }
                    Ok(Some(s)) if JobStatus::from_db(&s) == JobStatus::Running => {}
                    Ok(Some(_)) => {
                        let _ = tx.send(Halt::Cancelled);
                        return;
                    }
                    Ok(None) => {
                        let _ = tx.send(Halt::Interrupted);
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot renew the replay job lease"),
                }
            }
        });
        rx
    }

    async fn drive(&self, job: Job, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        tracing::info!(job = %job.id, "driving replay job");
        // Whatever a previous runner left in flight first.
        let mut tx = self.pool.begin().await?;
        let resolved = resolve_sending(&mut tx, &self.marks, Some(job.id), 0).await?;
        let cancelled = job.status == JobStatus::Cancelled;
        let halt = if cancelled {
            Halt::Cancelled
        } else {
            Halt::Interrupted
        };
        settle_batch(&mut tx, &job, resolved, halt, "recovered after a restart").await?;
        if cancelled {
            release_topics(&mut tx, job.id).await?;
            notify(&mut tx, job.id).await?;
            tx.commit().await?;
            return Ok(());
        }
        tx.commit().await?;

        let halt = self.watch_job(job.id, stop);
        let batch = match job.throttle {
            0 => self.batch_max,
            t => (t as usize).clamp(1, self.batch_max),
        };
        let interval =
            (job.throttle > 0).then(|| Duration::from_secs_f64(1.0 / job.throttle as f64));
        let mut next_slot = tokio::time::Instant::now();
        let mut may_hold = true;
        // What the job's progress says about waiting, as last written (`None`: not yet by
        // this runner, so the first look writes it); written again only when it changes.
        let mut said: Option<Option<String>> = None;
        let mut settling: Option<tokio::task::JoinHandle<anyhow::Result<()>>> = None;
        loop {
            let h = *halt.borrow();
            if h != Halt::Go {
                if let Some(prev) = settling.take() {
                    prev.await??;
                }
                return self.halted(&job, h).await;
            }
            // Held while a breaker its messages would run into is not closed (a job with
            // no breakers to wait on, or told to stop waiting, never looks again).
            if may_hold {
                match self.hold(&job, &mut halt.clone(), &mut said).await? {
                    Hold::Waiting => continue,
                    Hold::Clear => {}
                    Hold::Never => may_hold = false,
                }
            }
            let t0 = std::time::Instant::now();
            let next = self.claim_batch(&job, batch).await;
            if matches!(next, Ok(Next::Done | Next::Stopped) | Err(_)) {
                if let Some(prev) = settling.take() {
                    prev.await??;
                }
            }
            let claimed = match next? {
                Next::Batch(c) => c,
                Next::Done => {
                    // The last settle may have found failures; count again in complete().
                    return self.complete(&job).await;
                }
                Next::Stopped => return self.halted(&job, Halt::Cancelled).await,
            };
            let tc = t0.elapsed();
            let mut flights = Vec::with_capacity(claimed.len());
            let mut rest = Vec::new();
            let mut halt_rx = halt.clone();
            let producer = self.producer.get();
            for c in claimed {
                if *halt_rx.borrow() != Halt::Go {
                    rest.push(c);
                    continue;
                }
                if let Some(iv) = interval {
                    if next_slot > tokio::time::Instant::now() {
                        tokio::select! {
                            _ = tokio::time::sleep_until(next_slot) => {}
                            _ = halt_rx.changed() => { rest.push(c); continue; }
                        }
                    }
                    next_slot = next_slot.max(tokio::time::Instant::now() - iv) + iv;
                }
                let f = enqueue(&producer, &c, &job.strip, &job.actor.name).await;
                flights.push((c, f));
            }
            let mut out = Resolved::default();
            let mut doubt = Vec::new();
            for (c, f) in flights {
                let r = match f {
                    Ok(f) => delivered(f).await,
                    Err(e) => Err(e.to_string()),
                };
                match r {
                    Ok((partition, offset)) => out.sent.push(Sent {
                        replay_id: c.replay_id,
                        dead_letter_id: c.dead_letter_id,
                        partition,
                        offset,
                    }),
                    Err(e) => doubt.push((c, e)),
                }
            }
            // A batch that failed on a producer gone fatal: the next batch gets a new one.
            if !doubt.is_empty() {
                self.producer.renew_if_fatal();
            }
            // A failed delivery may still have reached the broker: look before deciding.
            let t1 = t0.elapsed();
            let failed = self.settle_doubt(doubt, &mut out).await?;
            let h = *halt.borrow();
            // Settle this batch while the next one is claimed and sent (they share no
            // rows); at most one settle is in flight, and it is awaited before the next
            // one, before completing and before stopping.
            if let Some(prev) = settling.take() {
                prev.await??;
            }
            let (this, job2) = (self.clone(), job.clone());
            settling = Some(tokio::spawn(async move {
                this.settle_round(&job2, out, rest, failed, h).await
            }));
            tracing::debug!(claim = ?tc, claim_and_send = ?t1, "replay batch sent");
        }
    }

    /// Whether a breaker holds the job now. While one does, the job's progress says so
    /// and this waits a second (or until the job is halted) before the caller looks
    /// again; when none does, the progress line is cleared.
    async fn hold(
        &self,
        job: &Job,
        halt: &mut watch::Receiver<Halt>,
        said: &mut Option<Option<String>>,
    ) -> anyhow::Result<Hold> {
        let mut conn = self.pool.acquire().await?;
        let names = hold::breakers_of(&mut conn, job.id).await?;
        let holding = hold::holding_among(&mut *conn, &names).await?;
        let never = names.is_empty();
        let now = holding.as_ref().map(hold::Holding::say);
        if said.as_ref() != Some(&now) {
            if hold::set_waiting(&mut conn, job.id, now.as_deref()).await? {
                if let Some(s) = &now {
                    tracing::info!(job = %job.id, "{s}");
                }
                notify(&mut conn, job.id).await?;
            }
            *said = Some(now);
        }
        drop(conn);
        if holding.is_none() {
            return Ok(if never { Hold::Never } else { Hold::Clear });
        }
        tokio::select! {
            _ = tokio::time::sleep(HOLD_RECHECK) => {}
            _ = halt.changed() => {}
        }
        Ok(Hold::Waiting)
    }

    async fn settle_round(
        &self,
        job: &Job,
        mut out: Resolved,
        rest: Vec<Claimed>,
        failed: Vec<(Uuid, String, i64)>,
        h: Halt,
    ) -> anyhow::Result<()> {
        let reason = if h == Halt::Cancelled {
            "cancelled before it was sent"
        } else {
            "interrupted before it was sent"
        };
        out.unsent
            .extend(rest.iter().map(|c| (c.replay_id, c.dead_letter_id)));
        let mut tx = self.pool.begin().await?;
        settle_batch(
            &mut tx,
            job,
            out,
            if h == Halt::Go { Halt::Interrupted } else { h },
            reason,
        )
        .await?;
        if !failed.is_empty() {
            let ids: Vec<Uuid> = failed.iter().map(|f| f.0).collect();
            let errors: Vec<String> = failed.iter().map(|f| f.1.clone()).collect();
            settle_unsent(&mut tx, &ids, ReplayStatus::Failed, &errors.join("; ")).await?;
            let dead: Vec<i64> = failed.iter().map(|f| f.2).collect();
            sqlx::query(
                "UPDATE replay_job_items i SET status = 'failed', note = u.e
                 FROM UNNEST($2::int8[], $3::text[]) AS u (d, e)
                 WHERE i.job_id = $1 AND i.dead_letter_id = u.d",
            )
            .bind(job.id)
            .bind(&dead)
            .bind(&errors)
            .execute(&mut *tx)
            .await?;
            refresh_counts(&mut tx, job.id).await?;
        }
        notify(&mut tx, job.id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replays whose delivery failed: found after their marks → sent; else failed.
    async fn settle_doubt(
        &self,
        doubt: Vec<(Claimed, String)>,
        out: &mut Resolved,
    ) -> anyhow::Result<Vec<(Uuid, String, i64)>> {
        if doubt.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = doubt.iter().map(|d| d.0.replay_id).collect();
        let rows: Vec<(Uuid, String, Option<serde_json::Value>)> = sqlx::query_as(
            "SELECT replay_id, target_topic, marks FROM replays WHERE replay_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        let lookups = rows
            .into_iter()
            .filter_map(|(replay_id, topic, m)| {
                Some(Lookup {
                    replay_id,
                    topic,
                    marks: super::watermarks::marks_from_json(m.as_ref()?),
                })
            })
            .collect();
        let found = self.marks.find(lookups).await?;
        let mut failed = Vec::new();
        for (c, e) in doubt {
            match found.get(&c.replay_id) {
                Some((partition, offset)) => out.sent.push(Sent {
                    replay_id: c.replay_id,
                    dead_letter_id: c.dead_letter_id,
                    partition: *partition,
                    offset: *offset,
                }),
                None => failed.push((c.replay_id, e, c.dead_letter_id)),
            }
        }
        Ok(failed)
    }

    /// Claims the next batch of pending items.
    async fn claim_batch(&self, job: &Job, size: usize) -> anyhow::Result<Next> {
        let mut tx = self.pool.begin().await?;
        let status: String =
            sqlx::query_scalar("SELECT status FROM replay_jobs WHERE id = $1 FOR UPDATE")
                .bind(job.id)
                .fetch_one(&mut *tx)
                .await?;
        if JobStatus::from_db(&status) != JobStatus::Running {
            return Ok(Next::Stopped);
        }
        let items: Vec<(i32, i64)> = sqlx::query_as(
            "SELECT seq, dead_letter_id FROM replay_job_items
             WHERE job_id = $1 AND status = 'pending' ORDER BY seq LIMIT $2",
        )
        .bind(job.id)
        .bind(size as i64)
        .fetch_all(&mut *tx)
        .await?;
        if items.is_empty() {
            return Ok(Next::Done);
        }
        let ids: Vec<i64> = items.iter().map(|i| i.1).collect();
        let c = claim(
            &mut tx,
            &self.marks,
            &ids,
            &job.actor.name,
            Some(job.id),
            job.max_replays,
            None,
        )
        .await?;
        let (mut dl, mut st, mut rid, mut note) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for x in &c.claimed {
            dl.push(x.dead_letter_id);
            st.push("sending".to_string());
            rid.push(Some(x.replay_id));
            note.push(None);
        }
        for (id, r) in &c.refused {
            dl.push(*id);
            let (s, n) = match r {
                Refused::Parked => ("parked", "replay limit reached".to_string()),
                Refused::AlreadyReplayed => ("skipped", "already replayed".to_string()),
                Refused::NotReplayable(why) => ("skipped", why.clone()),
            };
            st.push(s.to_string());
            rid.push(None);
            note.push(Some(n));
        }
        sqlx::query(
            "UPDATE replay_job_items i SET status = u.s, replay_id = u.r, note = u.n
             FROM UNNEST($2::int8[], $3::text[], $4::uuid[], $5::text[]) AS u (d, s, r, n)
             WHERE i.job_id = $1 AND i.dead_letter_id = u.d",
        )
        .bind(job.id)
        .bind(&dl)
        .bind(&st)
        .bind(&rid)
        .bind(&note)
        .execute(&mut *tx)
        .await?;
        if !c.refused.is_empty() {
            refresh_counts(&mut tx, job.id).await?;
            notify(&mut tx, job.id).await?;
        }
        tx.commit().await?;
        Ok(Next::Batch(c.claimed))
    }

    async fn complete(&self, job: &Job) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        let counts = refresh_counts(&mut tx, job.id).await?;
        sqlx::query(
            "UPDATE replay_jobs SET status = 'completed', finished_at = now(), lease_owner = NULL
             WHERE id = $1 AND status = 'running'",
        )
        .bind(job.id)
        .execute(&mut *tx)
        .await?;
        release_topics(&mut tx, job.id).await?;
        audit::record(
            &mut *tx,
            &Actor::system(),
            "replay_job_complete",
            Some(&job.id.to_string()),
            json!({ "requested_by": job.actor.name, "counts": counts }),
        )
        .await?;
        notify(&mut tx, job.id).await?;
        tx.commit().await?;
        tracing::info!(job = %job.id, %counts, "replay job completed");
        Ok(())
    }

    /// Sending stopped between batches: a cancelled job lets its topics go; an
    /// interrupted one keeps its lease until it runs out and resumes elsewhere.
    async fn halted(&self, job: &Job, h: Halt) -> anyhow::Result<()> {
        if h == Halt::Cancelled {
            let mut tx = self.pool.begin().await?;
            refresh_counts(&mut tx, job.id).await?;
            release_topics(&mut tx, job.id).await?;
            notify(&mut tx, job.id).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Replays outside any job left `sending` by a crash: settled from their marks.
    async fn resolve_orphans(&self) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        let r = resolve_sending(&mut tx, &self.marks, None, ORPHAN_AGE_SECS).await?;
        if r.sent.is_empty() && r.unsent.is_empty() {
            return Ok(());
        }
        settle_sent(&mut tx, &r.sent).await?;
        let unsent: Vec<Uuid> = r.unsent.iter().map(|u| u.0).collect();
        settle_unsent(
            &mut tx,
            &unsent,
            ReplayStatus::Failed,
            "interrupted before it was sent",
        )
        .await?;
        audit::record(
            &mut *tx,
            &Actor::system(),
            "replay_recovered",
            None,
            json!({
                "sent": r.sent.iter().map(|s| json!([s.dead_letter_id, s.replay_id, s.partition, s.offset])).collect::<Vec<_>>(),
                "not_sent": r.unsent.iter().map(|u| json!([u.1, u.0])).collect::<Vec<_>>(),
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Settles a batch in the caller's transaction: sent replays and their items, unsent ones
/// (cancelled, or back to pending for a later batch), progress counts and the audit row.
async fn settle_batch(
    conn: &mut PgConnection,
    job: &Job,
    r: Resolved,
    unsent_as: Halt,
    reason: &str,
) -> anyhow::Result<()> {
    if r.sent.is_empty() && r.unsent.is_empty() {
        return Ok(());
    }
    settle_sent(conn, &r.sent).await?;
    // Items are found by (job, dead letter): the unique index, not a scan of the job.
    sqlx::query(
        "UPDATE replay_job_items SET status = 'sent' WHERE job_id = $1 AND dead_letter_id = ANY($2)",
    )
    .bind(job.id)
    .bind(r.sent.iter().map(|s| s.dead_letter_id).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    let unsent: Vec<Uuid> = r.unsent.iter().map(|u| u.0).collect();
    let (replay_status, item_status) = match unsent_as {
        Halt::Cancelled => (ReplayStatus::Cancelled, "cancelled"),
        _ => (ReplayStatus::Unsent, "pending"),
    };
    settle_unsent(conn, &unsent, replay_status, reason).await?;
    sqlx::query(
        "UPDATE replay_job_items SET status = $3, note = $4,
                replay_id = CASE WHEN $3 = 'pending' THEN NULL ELSE replay_id END
         WHERE job_id = $1 AND dead_letter_id = ANY($2)",
    )
    .bind(job.id)
    .bind(r.unsent.iter().map(|u| u.1).collect::<Vec<_>>())
    .bind(item_status)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    let counts = refresh_counts(conn, job.id).await?;
    audit::record(
        &mut *conn,
        &job.actor,
        "replay",
        Some(&job.id.to_string()),
        json!({
            "job_id": job.id,
            // [dead letter, replay id, partition, offset] of every message sent.
            "sent": r.sent.iter().map(|s| json!([s.dead_letter_id, s.replay_id, s.partition, s.offset])).collect::<Vec<_>>(),
            "not_sent": r.unsent.iter().map(|u| u.1).collect::<Vec<_>>(),
            "not_sent_because": if unsent.is_empty() { None } else { Some(reason) },
            "counts": counts,
        }),
    )
    .await?;
    Ok(())
}
