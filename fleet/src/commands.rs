//! Operators' commands to sagas (`saga.command`, issue 23), applied by the order service in
//! both saga styles.
//!
//! A command is applied at most once: the saga row is locked, the command's answer is
//! written to `saga_commands` (keyed by the command id) in the same transaction as what it
//! does, and a command delivered again is answered again from that row. What a command does
//! goes through the saga's own machinery, so it survives a crash like any step:
//! - orchestrated, everything is in the durable log and the lease: a retry makes the
//!   pending request's lease lapse now (the conductor asks again), a retried compensation
//!   is a new `Started` entry, a forced compensation logs the step in flight as
//!   `cancelled` ([`super::saga`]) — the conductor then undoes, in reverse;
//! - choreographed, nobody conducts: the order service announces the event that makes the
//!   step act (a retry: the previous step's success, or the next one's failure for an
//!   undo; a forced compensation: the waiting step's failure), under an id derived from
//!   the command, published before the commit so a crash in between announces the same
//!   event again rather than never; the step services are idempotent per order;
//! - terminate ends the saga where it is (the order failed, with the operator's reason),
//!   in either style; nothing is undone.
//!
//! The answer (`applied` or `rejected`, with what was done or why not) goes back on
//! `saga.command`, so the console's timeline shows the command, who sent it and what
//! followed.

use super::aggregate;
use super::bus::HandlerError;
use super::events::{domain_event, step_index};
use super::orchestrator::{append_log, load_log, Tx};
use super::runtime::{internal, Fleet, Service};
use super::saga::{next, Entry, Next, Outcome, Phase, ORDER_STEPS};
use serde_json::json;
use switchyard_contract::saga_command::{Action, SagaCommand, Status};
use switchyard_contract::Envelope;
use uuid::Uuid;

const TERMINATED: &str = "order failed; nothing undone";

/// What a command comes to.
enum Verdict {
    Applied(String),
    Rejected(String),
}

/// The step a saga waits on, as an operator names it.
fn named(step: usize, phase: Phase) -> String {
    match phase {
        Phase::Execute => ORDER_STEPS[step].to_string(),
        Phase::Compensate => format!("undoing {}", ORDER_STEPS[step]),
    }
}

/// A retry of the step the orchestrated saga waits on (`step`, `phase`): refused when the
/// command names another one.
fn retry(cmd: &SagaCommand, step: usize, phase: Phase) -> Verdict {
    match step_of(cmd) {
        Ok(asked) if asked != (step, phase) => Verdict::Rejected(format!(
            "the saga waits on {}, not {}",
            named(step, phase),
            named(asked.0, asked.1)
        )),
        _ => Verdict::Applied(format!("{} asked again", named(step, phase))),
    }
}

/// The step and phase a command names (`retry_step`, and the choreographed `compensate`).
fn step_of(cmd: &SagaCommand) -> Result<(usize, Phase), String> {
    let step = cmd
        .step
        .as_deref()
        .ok_or("the command names no step (inventory, payment or shipment)")?;
    let step = step_index(step).ok_or_else(|| format!("no step {step:?} in the order saga"))?;
    let phase = match cmd.phase.as_deref().unwrap_or("execute") {
        "execute" => Phase::Execute,
        "compensate" => Phase::Compensate,
        other => return Err(format!("no phase {other:?} (execute or compensate)")),
    };
    Ok((step, phase))
}

impl Fleet {
    /// Applies `cmd` (once) and answers it.
    pub(crate) async fn apply_command(&self, cmd: &SagaCommand) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        // The saga first: a command and the saga's own progress take turns on its row.
        let saga: Option<(String, String, String)> =
            sqlx::query_as("SELECT saga_id, state, mode FROM sagas WHERE order_id = $1 FOR UPDATE")
                .bind(&cmd.order_id)
                .fetch_optional(&mut *tx)
                .await?;
        let answered: Option<(String, String)> =
            sqlx::query_as("SELECT status, detail FROM saga_commands WHERE command_id = $1")
                .bind(cmd.command_id)
                .fetch_optional(&mut *tx)
                .await?;
        let correlation = saga
            .as_ref()
            .map_or_else(|| cmd.order_id.clone(), |s| s.0.clone());
        if let Some((status, detail)) = answered {
            tx.rollback().await?;
            let status = if status == "applied" {
                Status::Applied
            } else {
                Status::Rejected
            };
            return self.answer(cmd, status, detail, &correlation).await;
        }
        let by = format!(
            "{} by {}: {}",
            cmd.action.label(),
            cmd.requested_by,
            cmd.reason
        );
        let verdict = match &saga {
            None => Verdict::Rejected("no saga for this order in the fleet".into()),
            Some((_, state, _)) if state != "running" && state != "stuck" => {
                Verdict::Rejected(format!("the saga has already ended ({state})"))
            }
            Some((saga_id, _, _)) if cmd.action == Action::Terminate => {
                self.record(&mut tx, cmd, Status::Applied, TERMINATED)
                    .await?;
                return self.terminate(tx, cmd, saga_id, &by).await;
            }
            Some((saga_id, _, mode)) if mode == "choreographed" => {
                self.choreographed(cmd, saga_id, &by).await?
            }
            Some((saga_id, _, _)) => self.orchestrated(&mut tx, cmd, saga_id, &by).await?,
        };
        let (status, detail) = match verdict {
            Verdict::Applied(d) => (Status::Applied, d),
            Verdict::Rejected(d) => (Status::Rejected, d),
        };
        self.record(&mut tx, cmd, status, &detail).await?;
        tx.commit().await?;
        self.answer(cmd, status, detail, &correlation).await
    }

    async fn record(
        &self,
        tx: &mut Tx<'_>,
        cmd: &SagaCommand,
        status: Status,
        detail: &str,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO saga_commands (command_id, order_id, action, status, detail, requested_by, reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(cmd.command_id)
        .bind(&cmd.order_id)
        .bind(cmd.action.as_str())
        .bind(status.as_str())
        .bind(detail)
        .bind(&cmd.requested_by)
        .bind(&cmd.reason)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn answer(
        &self,
        cmd: &SagaCommand,
        status: Status,
        detail: String,
        correlation: &str,
    ) -> anyhow::Result<()> {
        let answer = SagaCommand {
            status,
            detail: Some(detail),
            ..cmd.clone()
        };
        tracing::info!(command = %cmd.command_id, order_id = %cmd.order_id,
            action = cmd.action.as_str(), status = status.as_str(), "saga command answered");
        self.producer
            .publish(&answer.answer(&Service::Order.group(), correlation))
            .await?;
        Ok(())
    }

    /// Ends the saga where it is: the order failed with the operator's reason.
    async fn terminate(
        &self,
        tx: Tx<'_>,
        cmd: &SagaCommand,
        saga_id: &str,
        by: &str,
    ) -> anyhow::Result<()> {
        self.finish_in(
            tx,
            saga_id,
            &cmd.order_id,
            "terminated",
            Some(by.to_string()),
        )
        .await?;
        self.answer(cmd, Status::Applied, TERMINATED.into(), saga_id)
            .await
    }

    /// The orchestrated saga: through its log and lease.
    async fn orchestrated(
        &self,
        tx: &mut Tx<'_>,
        cmd: &SagaCommand,
        saga_id: &str,
        by: &str,
    ) -> anyhow::Result<Verdict> {
        let (log, _) = load_log(tx, saga_id).await?;
        let verdict = match (next(&log, ORDER_STEPS.len()), cmd.action) {
            (Next::Stuck { step }, Action::RetryStep | Action::Compensate) => {
                if let Ok((named_step, _)) = step_of(cmd) {
                    if cmd.action == Action::RetryStep && named_step != step {
                        return Ok(Verdict::Rejected(format!(
                            "the saga is stuck undoing {}, not {}",
                            ORDER_STEPS[step], ORDER_STEPS[named_step]
                        )));
                    }
                }
                let retry = Entry {
                    step,
                    phase: Phase::Compensate,
                    outcome: Outcome::Started,
                };
                append_log(tx, saga_id, log.len(), &retry, None).await?;
                Verdict::Applied(format!("undoing {} tried again", ORDER_STEPS[step]))
            }
            (Next::Execute(step), Action::RetryStep) => retry(cmd, step, Phase::Execute),
            (Next::Compensate(step), Action::RetryStep) => retry(cmd, step, Phase::Compensate),
            (Next::Execute(step), Action::Compensate) => {
                let cancelled = Entry {
                    step,
                    phase: Phase::Execute,
                    outcome: Outcome::Cancelled,
                };
                append_log(tx, saga_id, log.len(), &cancelled, Some(by)).await?;
                let undo: Vec<&str> = (0..=step).rev().map(|s| ORDER_STEPS[s]).collect();
                Verdict::Applied(format!("compensating: undoing {}", undo.join(", ")))
            }
            (Next::Compensate(step), Action::Compensate) => Verdict::Rejected(format!(
                "the saga is already compensating (undoing {})",
                ORDER_STEPS[step]
            )),
            (Next::Completed | Next::Compensated, _) | (_, Action::Terminate) => {
                Verdict::Rejected("the saga is ending already".into())
            }
        };
        if matches!(verdict, Verdict::Applied(_)) {
            // The conductor acts on it within its next round (a lapsed lease), as after
            // any crash: the request is sent (again) from the log.
            sqlx::query(
                "UPDATE sagas SET state = 'running', lease_until = now(), updated_at = now()
                 WHERE saga_id = $1",
            )
            .bind(saga_id)
            .execute(&mut **tx)
            .await?;
        }
        Ok(verdict)
    }

    /// The choreographed saga: the event that makes the step act, announced again.
    async fn choreographed(
        &self,
        cmd: &SagaCommand,
        saga_id: &str,
        by: &str,
    ) -> anyhow::Result<Verdict> {
        let (step, phase) = match step_of(cmd) {
            Ok(s) => s,
            Err(e) => return Ok(Verdict::Rejected(e)),
        };
        let (kind, done) = match (cmd.action, phase) {
            (Action::RetryStep, Phase::Execute) if step == 0 => {
                ("order.created", "inventory asked again".to_string())
            }
            (Action::RetryStep, Phase::Execute) => (
                domain_event(step - 1, Phase::Execute, true),
                format!("{} asked again", ORDER_STEPS[step]),
            ),
            (Action::RetryStep, Phase::Compensate) if step + 1 < ORDER_STEPS.len() => (
                domain_event(step + 1, Phase::Execute, false),
                format!("undoing {} asked again", ORDER_STEPS[step]),
            ),
            (Action::Compensate, Phase::Execute) => (
                domain_event(step, Phase::Execute, false),
                match step {
                    0 => "compensating: nothing was done before inventory".to_string(),
                    s => format!(
                        "compensating: undoing {}",
                        (0..s)
                            .rev()
                            .map(|s| ORDER_STEPS[s])
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
            ),
            (Action::Compensate, Phase::Compensate) => {
                return Ok(Verdict::Rejected("the saga is already compensating".into()))
            }
            _ => {
                return Ok(Verdict::Rejected(format!(
                    "nothing undoes {} in the choreographed saga",
                    ORDER_STEPS[step]
                )))
            }
        };
        let mut data = json!({"order_id": cmd.order_id, "saga_id": saga_id,
            "command_id": cmd.command_id});
        let mut occurred_at = chrono::Utc::now();
        if kind == "order.created" {
            // The order as it was created (the console's projection reads it again).
            let events = aggregate::load(&self.pool, &cmd.order_id).await?;
            match events.iter().find(|e| e.event_type == "order.created") {
                Some(created) => (data, occurred_at) = (created.data.clone(), created.at),
                None => {
                    return Ok(Verdict::Rejected(
                        "the order's creation is not stored".into(),
                    ))
                }
            }
        } else if cmd.action == Action::Compensate || phase == Phase::Compensate {
            data["reason"] = json!(by);
        }
        let mut env = Envelope::new(kind, &cmd.order_id, &Service::Order.group(), data);
        env.occurred_at = occurred_at;
        env.id = Uuid::new_v5(&cmd.command_id, kind.as_bytes());
        env.correlation_id = saga_id.to_string();
        env.causation_id = Some(cmd.command_id.to_string());
        // Before the commit: a crash in between announces the same event (same id) again.
        self.producer.publish(&env).await?;
        Ok(Verdict::Applied(format!("{done}: {kind} announced")))
    }
}

/// Whether the order service takes `env` as a command: every `saga.command` that is not
/// an answer (a malformed one included, to be dead-lettered with its reason).
pub fn is_request(env: &Envelope) -> bool {
    env.event_type == switchyard_contract::SAGA_COMMAND
        && !matches!(
            env.data.get("status").and_then(serde_json::Value::as_str),
            Some("applied" | "rejected")
        )
}

impl Fleet {
    /// The order service's handler for a command request.
    pub(crate) async fn handle_command(&self, env: &Envelope) -> Result<(), HandlerError> {
        let Some(cmd) = SagaCommand::parse(env) else {
            return Err(HandlerError::new(
                "Deserialization",
                "not a saga command: needs command_id, order_id, action (retry_step, compensate or terminate) and status",
            ));
        };
        self.apply_command(&cmd).await.map_err(internal)
    }
}
