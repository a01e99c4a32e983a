//! What the fleet's services say to each other on Kafka: the domain event a step's outcome
//! announces, the `saga.step` body (request and outcome alike), and deterministic event ids.
//!
//! Every event a service may have to announce again — after a crash, a redelivered request,
//! a re-sent request — gets an id derived from what it is about (order, step, phase,
//! outcome), so the second announcement is the same event as the first and a consumer that
//! handled it already skips it ([`super::bus`] keeps the handled ids per consumer group).

use super::saga::{Outcome, Phase, ORDER_STEPS};
use chrono::Utc;
use serde_json::{json, Value};
use switchyard_contract::kafka::renewing::RenewingProducer;
use switchyard_contract::Envelope;
use uuid::Uuid;

pub const SAGA_STEP: &str = "saga.step";

pub fn phase_str(p: Phase) -> &'static str {
    match p {
        Phase::Execute => "execute",
        Phase::Compensate => "compensate",
    }
}

pub fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Started => "started",
        Outcome::Succeeded => "succeeded",
        Outcome::Failed => "failed",
        Outcome::Cancelled => "cancelled",
    }
}

pub fn step_index(name: &str) -> Option<usize> {
    ORDER_STEPS.iter().position(|s| *s == name)
}

/// The domain event a step outcome announces (`ok` is ignored for compensations: an undo
/// that failed announces nothing but its `saga.step`).
pub fn domain_event(step: usize, phase: Phase, ok: bool) -> &'static str {
    match (ORDER_STEPS[step], phase, ok) {
        ("inventory", Phase::Execute, true) => "inventory.reserved",
        ("inventory", Phase::Execute, false) => "inventory.failed",
        ("inventory", Phase::Compensate, _) => "inventory.released",
        ("payment", Phase::Execute, true) => "payment.completed",
        ("payment", Phase::Execute, false) => "payment.failed",
        ("payment", Phase::Compensate, _) => "payment.refunded",
        ("shipment", Phase::Execute, true) => "shipment.created",
        ("shipment", Phase::Execute, false) => "shipment.failed",
        _ => "shipment.cancelled",
    }
}

/// A name-based (v5) id: the same `what` always gives the same id.
pub fn stable_id(what: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, what.as_bytes())
}

/// One `saga.step` message: a request (`started`, from the orchestrator) or an outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepMsg {
    pub saga_id: String,
    pub order_id: String,
    pub step: usize,
    pub phase: Phase,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub attempt: i32,
}

impl StepMsg {
    pub fn data(&self) -> Value {
        let mut data = json!({"saga_id": self.saga_id, "order_id": self.order_id,
            "step": ORDER_STEPS[self.step], "action": phase_str(self.phase),
            "status": outcome_str(self.outcome), "attempt": self.attempt,
            "at": Utc::now().to_rfc3339()});
        if let Some(e) = &self.error {
            data["error"] = json!(e);
        }
        data
    }

    pub fn parse(env: &Envelope) -> Option<StepMsg> {
        let d = &env.data;
        let text = |k: &str| d.get(k).and_then(Value::as_str);
        Some(StepMsg {
            saga_id: text("saga_id")?.to_string(),
            order_id: text("order_id").unwrap_or(&env.aggregate_id).to_string(),
            step: step_index(text("step")?)?,
            phase: match text("action")? {
                "execute" => Phase::Execute,
                "compensate" => Phase::Compensate,
                _ => return None,
            },
            outcome: match text("status")? {
                "started" => Outcome::Started,
                "succeeded" => Outcome::Succeeded,
                "failed" => Outcome::Failed,
                _ => return None,
            },
            error: text("error").map(str::to_string),
            attempt: d.get("attempt").and_then(Value::as_i64).unwrap_or(1) as i32,
        })
    }
}

/// Publishes `kind` about `order_id` with the given id, correlated to its saga.
pub async fn emit(
    producer: &RenewingProducer,
    kind: &str,
    order_id: &str,
    saga_id: &str,
    source: &str,
    id: Uuid,
    data: Value,
) -> anyhow::Result<()> {
    let mut env = Envelope::new(kind, order_id, source, data);
    env.id = id;
    env.correlation_id = saga_id.to_string();
    producer.publish(&env).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_messages_round_trip_and_ids_are_stable() {
        let m = StepMsg {
            saga_id: "SAGA-1".into(),
            order_id: "ORD-1".into(),
            step: 1,
            phase: Phase::Compensate,
            outcome: Outcome::Failed,
            error: Some("payment: down".into()),
            attempt: 2,
        };
        let env = Envelope::new(SAGA_STEP, "ORD-1", "payment-service", m.data());
        assert_eq!(StepMsg::parse(&env), Some(m));
        assert_eq!(stable_id("a/b"), stable_id("a/b"));
        assert_ne!(stable_id("a/b"), stable_id("a/c"));
        assert_eq!(domain_event(1, Phase::Compensate, true), "payment.refunded");
    }
}
