//! The inventory, payment and shipment services: each owns one dependency (warehouse API,
//! payment gateway, carrier API) behind its bulkhead and breaker, and its own record of what
//! it did ([`super::effects`]). Asked to act — by a `saga.step` request from the
//! orchestrator, or by the previous service's domain event in the choreographed saga — it
//! acts at most once per order, records the effect, and announces the outcome: its domain
//! event (`payment.completed`, …) and `saga.step` succeeded/failed, with ids derived from
//! the outcome so that announcing it again repeats the same events.

use super::bus::Accept;
use super::dependency::CallError;
use super::effects::{Recorded, EFFECTS};
use super::events::{domain_event, emit, outcome_str, phase_str, stable_id, StepMsg, SAGA_STEP};
use super::runtime::{internal, Fleet, Service};
use super::saga::{Outcome, Phase, ORDER_STEPS};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A step could not be tried because its dependency is down (outage, time-out, breaker
/// open, bulkhead full) — as opposed to refused (a declined card). In the choreographed
/// saga nobody would ask again, so the service fails the message instead of the saga:
/// the bus retries it with backoff and then dead-letters it, the saga waits, and an
/// operator replays the dead letter once the dependency is back.
#[derive(Debug)]
pub struct DependencyDown(pub String);

impl std::fmt::Display for DependencyDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DependencyDown {}

/// What happens when a step's dependency is down while doing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenDown {
    /// The step fails and the saga compensates (the orchestrator decides).
    FailStep,
    /// The message fails ([`DependencyDown`]): retried, then dead-lettered (choreography).
    FailMessage,
}

impl Fleet {
    /// Calls step `step`'s dependency. Undoing must happen, so an undo is retried a few
    /// times when the dependency is down; doing fails fast. `Err((down, message))`.
    async fn call(&self, step: usize, undo: bool) -> Result<(), (bool, String)> {
        let dep = self.deps[step].clone();
        let faults = self.faults.read().unwrap().clone();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let (r, transitions) = dep.call(&faults, undo).await;
            self.emit_transitions(&dep, transitions).await;
            match r {
                Err(
                    CallError::Unavailable(_) | CallError::NotPermitted | CallError::BulkheadFull,
                ) if undo && attempt < 5 => {
                    tokio::time::sleep(Duration::from_millis(200) * attempt).await;
                }
                r => {
                    return r.map_err(|e| {
                        let down = !matches!(e, CallError::Refused(_));
                        (down, format!("{}: {}", ORDER_STEPS[step], e.message()))
                    })
                }
            }
        }
    }

    /// Executes or compensates `step` for an order — at most once, whatever was asked
    /// before — and announces the outcome. `reason` (why the saga is being undone) is
    /// carried into the compensation's domain event. Returns whether it succeeded; with
    /// [`WhenDown::FailMessage`], a dependency that is down while doing the step is a
    /// [`DependencyDown`] error instead, and nothing is recorded or announced.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn act(
        &self,
        step: usize,
        phase: Phase,
        saga_id: &str,
        order_id: &str,
        attempt: i32,
        reason: Option<&str>,
        when_down: WhenDown,
    ) -> anyhow::Result<bool> {
        let effect = &EFFECTS[step];
        let from_row = |r: Recorded| match r {
            Recorded::Done => (Phase::Execute, Ok(())),
            Recorded::Failed(e) => (Phase::Execute, Err(e)),
            // Undone already: the request is stale; say what became of the step.
            Recorded::Undone => (Phase::Compensate, Ok(())),
        };
        let (phase, result) = match phase {
            Phase::Execute => match effect.get(&self.pool, order_id).await? {
                Some(r) => from_row(r),
                None => {
                    let r = match self.call(step, false).await {
                        Err((true, why)) if when_down == WhenDown::FailMessage => {
                            return Err(DependencyDown(why).into())
                        }
                        r => r.map_err(|(_, why)| why),
                    };
                    from_row(effect.record(&self.pool, order_id, saga_id, &r).await?)
                }
            },
            Phase::Compensate => match effect.get(&self.pool, order_id).await? {
                Some(Recorded::Done) => {
                    let r = self.call(step, true).await.map_err(|(_, why)| why);
                    if r.is_ok() {
                        effect.undo(&self.pool, order_id).await?;
                    }
                    (Phase::Compensate, r)
                }
                // Never done, or undone already: nothing (more) to undo.
                _ => (Phase::Compensate, Ok(())),
            },
        };
        self.announce(step, phase, saga_id, order_id, attempt, &result, reason)
            .await?;
        Ok(result.is_ok())
    }

    /// Publishes `saga.step` with the outcome and the domain event it stands for (a failed
    /// undo has no domain event).
    #[allow(clippy::too_many_arguments)]
    async fn announce(
        &self,
        step: usize,
        phase: Phase,
        saga_id: &str,
        order_id: &str,
        attempt: i32,
        result: &Result<(), String>,
        reason: Option<&str>,
    ) -> anyhow::Result<()> {
        let outcome = if result.is_ok() {
            Outcome::Succeeded
        } else {
            Outcome::Failed
        };
        let source = Service::of_step(step).group();
        let msg = StepMsg {
            saga_id: saga_id.to_string(),
            order_id: order_id.to_string(),
            step,
            phase,
            outcome,
            error: result.clone().err(),
            attempt,
        };
        let step_id = stable_id(&format!(
            "{order_id}/{}/{}/{}",
            ORDER_STEPS[step],
            phase_str(phase),
            outcome_str(outcome)
        ));
        let step_event = emit(
            &self.producer,
            SAGA_STEP,
            order_id,
            saga_id,
            &source,
            step_id,
            msg.data(),
        );
        if phase == Phase::Compensate && result.is_err() {
            return step_event.await;
        }
        let kind = domain_event(step, phase, result.is_ok());
        let mut data = json!({"order_id": order_id, "saga_id": saga_id});
        if let Some(r) = result.as_ref().err().map(String::as_str).or(reason) {
            data["reason"] = json!(r);
        }
        if kind == "shipment.created" {
            data["tracking"] = json!(format!("TRK-{order_id}"));
        }
        let domain = emit(
            &self.producer,
            kind,
            order_id,
            saga_id,
            &source,
            stable_id(&format!("{order_id}/{kind}")),
            data,
        );
        let (a, b) = tokio::join!(step_event, domain);
        a.and(b)
    }

    /// The orchestrated step service: handles the `saga.step` requests for its step.
    pub(crate) fn run_step_requests(
        self: Arc<Self>,
        step: usize,
        stop: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let accept: Accept = Arc::new(move |env| {
            StepMsg::parse(env).is_some_and(|m| m.step == step && m.outcome == Outcome::Started)
        });
        let fleet = self.clone();
        self.subscribe(
            Service::of_step(step),
            &[SAGA_STEP],
            Some(accept),
            move |env| {
                let fleet = fleet.clone();
                async move {
                    let Some(m) = StepMsg::parse(&env) else {
                        return Ok(());
                    };
                    fleet
                        .act(
                            m.step,
                            m.phase,
                            &m.saga_id,
                            &m.order_id,
                            m.attempt,
                            None,
                            WhenDown::FailStep,
                        )
                        .await
                        .map(|_| ())
                        .map_err(internal)
                }
            },
            stop,
        )
    }
}
