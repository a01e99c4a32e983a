//! The choreographed saga: no conductor. Each step service reacts to the previous step's
//! domain event — order.created → inventory reserves → inventory.reserved → payment charges
//! → payment.completed → shipment ships → shipment.created → the order service completes
//! the order. A failure travels back as events that trigger the compensations in reverse:
//! shipment.failed → payment refunds → payment.refunded → inventory releases →
//! inventory.released → the order service fails the order (payment.failed starts at the
//! release; inventory.failed fails the order at once). Every step still publishes
//! `saga.step` (started, then its outcome), so the console's saga timeline is the same in
//! both modes.
//!
//! A dependency that is down (outage, breaker open) does not fail the saga here: with no
//! conductor to ask again later, the service fails the message instead
//! ([`super::step_service::DependencyDown`]); the bus retries it with backoff, then
//! dead-letters it to `<trigger>.dlq`, and the order waits. Replaying the dead letter once
//! the dependency is back continues the saga — the seed's pattern, and the operator's
//! scenario the console is built for. A refusal (a declined card) fails the step and the
//! compensations run.
//!
//! Recovery rests on Kafka redelivery and idempotent services: a restarted service re-reads
//! what it had not committed, finds its effect row if it had acted, and announces the same
//! events again (same ids). A compensation that keeps failing is retried with backoff and
//! then dead-lettered, and replaying the dead letter resumes the saga. The order service
//! re-announces `order.created` (its stored id) for a saga that outlasts its lease, in case
//! it died between storing the order and announcing it.

use super::bus::{Accept, HandlerError};
use super::commands::is_request;
use super::events::{domain_event, emit, outcome_str, phase_str, stable_id, StepMsg, SAGA_STEP};
use super::order_service::lease_secs;
use super::runtime::{internal, Fleet, Service};
use super::saga::{Outcome, Phase, ORDER_STEPS};
use super::step_service::{DependencyDown, WhenDown};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use switchyard_contract::{Envelope, SAGA_COMMAND};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The events that make step `step` act, and how.
pub fn triggers(step: usize) -> Vec<(&'static str, Phase)> {
    let execute = match step {
        0 => "order.created",
        s => domain_event(s - 1, Phase::Execute, true),
    };
    let mut t = vec![(execute, Phase::Execute)];
    if step + 1 < ORDER_STEPS.len() {
        // The next step failed, or was undone: undo this one.
        t.push((
            domain_event(step + 1, Phase::Execute, false),
            Phase::Compensate,
        ));
        t.push((
            domain_event(step + 1, Phase::Compensate, true),
            Phase::Compensate,
        ));
    }
    t
}

/// The events that end a saga for the order service: (topic, completed?).
pub fn endings() -> [(&'static str, bool); 3] {
    [
        (
            domain_event(ORDER_STEPS.len() - 1, Phase::Execute, true),
            true,
        ),
        (domain_event(0, Phase::Execute, false), false),
        (domain_event(0, Phase::Compensate, true), false),
    ]
}

fn saga_of(env: &Envelope) -> String {
    env.data
        .get("saga_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("SAGA-{}", env.aggregate_id))
}

impl Fleet {
    /// A choreographed step service: reacts to its triggers.
    pub(crate) fn run_choreographed_step(
        self: Arc<Self>,
        step: usize,
        stop: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let fleet = self.clone();
        let topics: Vec<&str> = triggers(step).iter().map(|(t, _)| *t).collect();
        self.subscribe(
            Service::of_step(step),
            &topics,
            None,
            move |env: Envelope| {
                let fleet = fleet.clone();
                async move {
                    let Some(&(_, phase)) =
                        triggers(step).iter().find(|(t, _)| *t == env.event_type)
                    else {
                        return Ok(());
                    };
                    let (saga_id, order_id) = (saga_of(&env), env.aggregate_id.clone());
                    let started = StepMsg {
                        saga_id: saga_id.clone(),
                        order_id: order_id.clone(),
                        step,
                        phase,
                        outcome: Outcome::Started,
                        error: None,
                        attempt: 1,
                    };
                    let id = stable_id(&format!(
                        "{order_id}/{}/{}/{}",
                        ORDER_STEPS[step],
                        phase_str(phase),
                        outcome_str(Outcome::Started)
                    ));
                    let source = Service::of_step(step).group();
                    emit(
                        &fleet.producer,
                        SAGA_STEP,
                        &order_id,
                        &saga_id,
                        &source,
                        id,
                        started.data(),
                    )
                    .await
                    .map_err(internal)?;
                    let reason = env.data.get("reason").and_then(Value::as_str);
                    let ok = fleet
                        .act(
                            step,
                            phase,
                            &saga_id,
                            &order_id,
                            1,
                            reason,
                            WhenDown::FailMessage,
                        )
                        .await
                        .map_err(|e| match e.downcast_ref::<DependencyDown>() {
                            Some(down) => {
                                HandlerError::new("DependencyUnavailable", down.0.clone())
                            }
                            None => internal(e),
                        })?;
                    if !ok && phase == Phase::Compensate {
                        // Undoing must happen: retried, then a dead letter to replay.
                        return Err(HandlerError::new(
                            "CompensationFailed",
                            format!("cannot undo {} of {order_id}", ORDER_STEPS[step]),
                        ));
                    }
                    Ok(())
                }
            },
            stop,
        )
    }

    /// Ends a choreographed saga (once).
    async fn end_choreographed(
        &self,
        saga_id: &str,
        order_id: &str,
        completed: bool,
        reason: Option<String>,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM sagas WHERE saga_id = $1 FOR UPDATE")
                .bind(saga_id)
                .fetch_optional(&mut *tx)
                .await?;
        if state.as_deref() != Some("running") {
            return Ok(());
        }
        let state = if completed {
            "completed"
        } else {
            "compensated"
        };
        self.finish_in(tx, saga_id, order_id, state, reason).await
    }

    /// The choreographed order service: ends sagas on their last event, applies operators'
    /// commands ([`super::commands`]), and re-announces `order.created` for sagas that
    /// outlast their lease.
    pub(crate) fn run_choreographed_orders(
        self: Arc<Self>,
        stop: watch::Receiver<bool>,
    ) -> Vec<JoinHandle<()>> {
        let fleet = self.clone();
        let mut topics: Vec<&str> = endings().iter().map(|(t, _)| *t).collect();
        topics.push(SAGA_COMMAND);
        let accept: Accept = Arc::new(|env| env.event_type != SAGA_COMMAND || is_request(env));
        let ends = self.subscribe(
            Service::Order,
            &topics,
            Some(accept),
            move |env: Envelope| {
                let fleet = fleet.clone();
                async move {
                    if is_request(&env) {
                        return fleet.handle_command(&env).await;
                    }
                    let Some(&(_, completed)) =
                        endings().iter().find(|(t, _)| *t == env.event_type)
                    else {
                        return Ok(());
                    };
                    let reason = env
                        .data
                        .get("reason")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    fleet
                        .end_choreographed(&saga_of(&env), &env.aggregate_id, completed, reason)
                        .await
                        .map_err(internal)
                }
            },
            stop.clone(),
        );
        let (fleet, mut stop) = (self, stop);
        let nudge = tokio::spawn(async move {
            loop {
                let lapsed: Vec<(String, String)> = sqlx::query_as(
                    "UPDATE sagas SET attempt = attempt + 1,
                        lease_until = now() + make_interval(secs => $1 * least(attempt + 2, 6))
                     WHERE saga_id IN (SELECT saga_id FROM sagas WHERE state = 'running'
                        AND mode = 'choreographed' AND lease_until < now()
                        ORDER BY created_at LIMIT 32 FOR UPDATE SKIP LOCKED)
                     RETURNING saga_id, order_id",
                )
                .bind(lease_secs())
                .fetch_all(&fleet.pool)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot look for lapsed sagas");
                    Vec::new()
                });
                for (saga_id, order_id) in &lapsed {
                    if let Err(e) = fleet.republish_created(saga_id, order_id).await {
                        tracing::warn!(error = %e, saga_id = %saga_id, "cannot re-announce order.created");
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => return,
                }
            }
        });
        vec![ends, nudge]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_contract::services;

    #[test]
    fn the_contracts_service_map_names_what_each_step_consumes() {
        for (step, name) in ORDER_STEPS.iter().enumerate() {
            let d = services::dependency_of(name).expect("a dependency per step");
            let mut consumed: Vec<&str> = triggers(step).iter().map(|(t, _)| *t).collect();
            consumed.push(SAGA_STEP);
            consumed.sort();
            let mut said = d.consumes.to_vec();
            said.sort();
            assert_eq!(consumed, said, "{name}");
        }
    }

    #[test]
    fn failures_travel_back_through_the_steps() {
        assert_eq!(
            triggers(0),
            vec![
                ("order.created", Phase::Execute),
                ("payment.failed", Phase::Compensate),
                ("payment.refunded", Phase::Compensate),
            ]
        );
        assert_eq!(
            triggers(1),
            vec![
                ("inventory.reserved", Phase::Execute),
                ("shipment.failed", Phase::Compensate),
                ("shipment.cancelled", Phase::Compensate),
            ]
        );
        assert_eq!(triggers(2), vec![("payment.completed", Phase::Execute)]);
        assert_eq!(
            endings().map(|e| e.0),
            ["shipment.created", "inventory.failed", "inventory.released"]
        );
    }
}
