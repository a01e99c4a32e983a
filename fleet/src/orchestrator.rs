//! The orchestrated saga's conductor, in the order service: reserve inventory → process
//! payment → create shipment, compensating completed steps in reverse order when one fails.
//!
//! It never calls a dependency: it asks the step's service with a `saga.step` request
//! (`status: started`) and advances when that service's outcome comes back on `saga.step`.
//! Everything it decides comes from the durable `saga_log` ([`super::saga::next`]); a
//! request is logged before it is sent, and a saga row is locked while it is advanced, so
//! several order-service processes can share the work. A request whose outcome has not come
//! back within the lease ([`lease_secs`], longer with each attempt) is sent again as a new
//! attempt — after a crash of the orchestrator, a lost message, a step service that was
//! down. The step services act at most once per order ([`super::effects`]) and announce the
//! same outcome (same event id) again, which the orchestrator then skips as handled.

use super::bus::Accept;
use super::commands::is_request;
use super::events::outcome_str;
use super::events::{emit, phase_str, stable_id, StepMsg, SAGA_STEP};
use super::order_service::lease_secs;
use super::runtime::{internal, Fleet, Service};
use super::saga::{next, Entry, Next, Outcome, Phase, ORDER_STEPS};
use std::sync::Arc;
use std::time::Duration;
use switchyard_contract::SAGA_COMMAND;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub(crate) type Tx<'a> = sqlx::Transaction<'a, sqlx::Postgres>;

pub(crate) async fn load_log(
    tx: &mut Tx<'_>,
    saga_id: &str,
) -> sqlx::Result<(Vec<Entry>, Option<String>)> {
    let rows: Vec<(i32, String, String, Option<String>)> = sqlx::query_as(
        "SELECT step, phase, outcome, error FROM saga_log WHERE saga_id = $1 ORDER BY seq",
    )
    .bind(saga_id)
    .fetch_all(&mut **tx)
    .await?;
    let first_error = rows.iter().find_map(|r| r.3.clone());
    let log = rows
        .into_iter()
        .map(|(step, phase, outcome, _)| Entry {
            step: step as usize,
            phase: if phase == "execute" {
                Phase::Execute
            } else {
                Phase::Compensate
            },
            outcome: match outcome.as_str() {
                "started" => Outcome::Started,
                "succeeded" => Outcome::Succeeded,
                "cancelled" => Outcome::Cancelled,
                _ => Outcome::Failed,
            },
        })
        .collect();
    Ok((log, first_error))
}

pub(crate) async fn append_log(
    tx: &mut Tx<'_>,
    saga_id: &str,
    seq: usize,
    e: &Entry,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO saga_log (saga_id, seq, step, phase, outcome, error) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(saga_id)
    .bind(seq as i32)
    .bind(e.step as i32)
    .bind(phase_str(e.phase))
    .bind(outcome_str(e.outcome))
    .bind(error)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) fn awaiting(log: &[Entry], step: usize, phase: Phase) -> bool {
    matches!(log.last(), Some(e) if e.outcome == Outcome::Started && e.step == step && e.phase == phase)
}

impl Fleet {
    /// Advances one saga: logs `outcome` if it answers the pending request (a duplicate or
    /// stale one changes nothing), then sends the next request, re-sends the pending one
    /// whose lease lapsed, or ends the saga. Without an outcome it acts only on a saga whose
    /// lease lapsed.
    pub(crate) async fn advance(
        &self,
        saga_id: &str,
        outcome: Option<&StepMsg>,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        let row: Option<(String, String, i32, bool)> = sqlx::query_as(
            "SELECT order_id, state, attempt, lease_until IS NULL OR lease_until < now()
             FROM sagas WHERE saga_id = $1 FOR UPDATE",
        )
        .bind(saga_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((order_id, state, attempt, lapsed)) = row else {
            return Ok(());
        };
        if state != "running" || (outcome.is_none() && !lapsed) {
            return Ok(());
        }
        let (mut log, mut first_error) = load_log(&mut tx, saga_id).await?;
        if let Some(m) = outcome {
            if m.outcome == Outcome::Started || !awaiting(&log, m.step, m.phase) {
                return Ok(());
            }
            let e = Entry {
                step: m.step,
                phase: m.phase,
                outcome: m.outcome,
            };
            append_log(&mut tx, saga_id, log.len(), &e, m.error.as_deref()).await?;
            log.push(e);
            first_error = first_error.or_else(|| m.error.clone());
        }
        let seq = log.len();
        let (step, phase) = match next(&log, ORDER_STEPS.len()) {
            Next::Execute(s) => (s, Phase::Execute),
            Next::Compensate(s) => (s, Phase::Compensate),
            Next::Completed => {
                return self
                    .finish_in(tx, saga_id, &order_id, "completed", None)
                    .await
            }
            Next::Compensated => {
                return self
                    .finish_in(tx, saga_id, &order_id, "compensated", first_error)
                    .await
            }
            Next::Stuck { .. } => {
                let reason = Some("compensation failed; needs an operator".to_string());
                return self
                    .finish_in(tx, saga_id, &order_id, "stuck", reason)
                    .await;
            }
        };
        let (request_seq, attempt) = if awaiting(&log, step, phase) {
            (seq - 1, attempt + 1)
        } else {
            let started = Entry {
                step,
                phase,
                outcome: Outcome::Started,
            };
            append_log(&mut tx, saga_id, seq, &started, None).await?;
            (seq, 1)
        };
        sqlx::query(
            "UPDATE sagas SET attempt = $2, lease_until = now() + make_interval(secs => $3),
                updated_at = now() WHERE saga_id = $1",
        )
        .bind(saga_id)
        .bind(attempt)
        .bind(lease_secs() * f64::from(attempt.min(5)))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if attempt > 1 {
            tracing::info!(
                saga_id,
                step = ORDER_STEPS[step],
                attempt,
                "no outcome yet; asking again"
            );
        }
        let request = StepMsg {
            saga_id: saga_id.to_string(),
            order_id: order_id.clone(),
            step,
            phase,
            outcome: Outcome::Started,
            error: None,
            attempt,
        };
        emit(
            &self.producer,
            SAGA_STEP,
            &order_id,
            saga_id,
            &Service::Order.group(),
            stable_id(&format!("{saga_id}/{request_seq}/{attempt}/{SAGA_STEP}")),
            request.data(),
        )
        .await
    }

    /// The orchestrating order service: consumes the step services' outcomes and operators'
    /// commands ([`super::commands`]), and re-drives sagas whose lease lapsed.
    pub(crate) fn run_orchestrator(
        self: Arc<Self>,
        stop: watch::Receiver<bool>,
    ) -> Vec<JoinHandle<()>> {
        let accept: Accept = Arc::new(|env| {
            is_request(env) || StepMsg::parse(env).is_some_and(|m| m.outcome != Outcome::Started)
        });
        let fleet = self.clone();
        let outcomes = self.subscribe(
            Service::Order,
            &[SAGA_STEP, SAGA_COMMAND],
            Some(accept),
            move |env| {
                let fleet = fleet.clone();
                async move {
                    if is_request(&env) {
                        return fleet.handle_command(&env).await;
                    }
                    let Some(m) = StepMsg::parse(&env) else {
                        return Ok(());
                    };
                    fleet.advance(&m.saga_id, Some(&m)).await.map_err(internal)
                }
            },
            stop.clone(),
        );
        let (fleet, mut stop) = (self, stop);
        let redrive = tokio::spawn(async move {
            loop {
                let lapsed: Vec<String> = sqlx::query_scalar(
                    "SELECT saga_id FROM sagas WHERE state = 'running' AND mode = 'orchestrated'
                       AND (lease_until IS NULL OR lease_until < now())
                     ORDER BY created_at LIMIT 32",
                )
                .fetch_all(&fleet.pool)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot look for lapsed sagas");
                    Vec::new()
                });
                for saga_id in &lapsed {
                    if let Err(e) = fleet.advance(saga_id, None).await {
                        tracing::warn!(error = %e, saga_id = %saga_id, "cannot advance saga; it is retried when its lease lapses");
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                    _ = stop.changed() => return,
                }
            }
        });
        vec![outcomes, redrive]
    }
}
