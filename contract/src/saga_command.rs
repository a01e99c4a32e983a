//! Saga commands: how an operator acts on an order's saga (issue 23). The console publishes
//! a command on the `saga.command` topic (keyed by order id, event type `saga.command`,
//! `status: requested`); the fleet's order service applies it at most once — the command id
//! is the envelope's id and its idempotency key — and answers on the same topic with
//! `status: applied` or `rejected` (and what it did, or why not), under an id derived from
//! the command's, so an answer given twice is the same event.
//!
//! The actions:
//! - `retry_step`: ask the step the saga waits on (`step`, `phase`) again — a pending
//!   request re-sent now, a failed compensation tried again;
//! - `compensate`: stop going forward and undo what was done, in reverse (a step in flight
//!   is undone too: undoing a step that never acted is a no-op);
//! - `terminate`: end the saga where it is, the order failed with the operator's reason;
//!   nothing is undone.
//!
//! Every command carries who sent it and a reason (required: it is the record of why).

use crate::envelope::Envelope;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

pub const SAGA_COMMAND: &str = "saga.command";
/// The `source` of the commands the console publishes.
pub const CONSOLE_SOURCE: &str = "switchyard-console";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    RetryStep,
    Compensate,
    Terminate,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::RetryStep, Action::Compensate, Action::Terminate];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::RetryStep => "retry_step",
            Action::Compensate => "compensate",
            Action::Terminate => "terminate",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// What an operator reads on a button or in a timeline.
    pub fn label(self) -> &'static str {
        match self {
            Action::RetryStep => "Retry step",
            Action::Compensate => "Force compensation",
            Action::Terminate => "Terminate",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Requested,
    Applied,
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Requested => "requested",
            Status::Applied => "applied",
            Status::Rejected => "rejected",
        }
    }
}

/// One command, as requested or as answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SagaCommand {
    pub command_id: Uuid,
    pub order_id: String,
    pub action: Action,
    /// The step it is about (`retry_step`): `inventory`, `payment`, `shipment`.
    pub step: Option<String>,
    /// `execute` or `compensate` (`retry_step`).
    pub phase: Option<String>,
    pub reason: String,
    pub requested_by: String,
    pub status: Status,
    /// The answer: what was done, or why nothing was.
    pub detail: Option<String>,
}

impl SagaCommand {
    pub fn data(&self) -> Value {
        let mut d = json!({
            "command_id": self.command_id, "order_id": self.order_id,
            "action": self.action.as_str(), "reason": self.reason,
            "requested_by": self.requested_by, "status": self.status.as_str(),
        });
        for (k, v) in [
            ("step", &self.step),
            ("phase", &self.phase),
            ("detail", &self.detail),
        ] {
            if let Some(v) = v {
                d[k] = json!(v);
            }
        }
        d
    }

    /// The request's envelope: its id is the command id.
    pub fn request(&self) -> Envelope {
        let mut env = Envelope::new(SAGA_COMMAND, &self.order_id, CONSOLE_SOURCE, self.data());
        env.id = self.command_id;
        env
    }

    /// The answer's envelope, from `source`: one id per command, whatever the answer.
    pub fn answer(&self, source: &str, correlation_id: &str) -> Envelope {
        let mut env = Envelope::new(SAGA_COMMAND, &self.order_id, source, self.data());
        env.id = answer_id(self.command_id);
        env.correlation_id = correlation_id.to_string();
        env.causation_id = Some(self.command_id.to_string());
        env
    }

    pub fn parse(env: &Envelope) -> Option<SagaCommand> {
        let d = &env.data;
        let text = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
        Some(SagaCommand {
            command_id: text("command_id")?.parse().ok()?,
            order_id: text("order_id").unwrap_or_else(|| env.aggregate_id.clone()),
            action: Action::parse(&text("action")?)?,
            step: text("step"),
            phase: text("phase"),
            reason: text("reason").unwrap_or_default(),
            requested_by: text("requested_by").unwrap_or_default(),
            status: serde_json::from_value(d.get("status")?.clone()).ok()?,
            detail: text("detail"),
        })
    }
}

/// The id of a command's answer.
pub fn answer_id(command_id: Uuid) -> Uuid {
    Uuid::new_v5(&command_id, b"answer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_and_answers_have_one_id() {
        let c = SagaCommand {
            command_id: Uuid::now_v7(),
            order_id: "ORD-1".into(),
            action: Action::RetryStep,
            step: Some("payment".into()),
            phase: Some("execute".into()),
            reason: "gateway is back".into(),
            requested_by: "ada".into(),
            status: Status::Requested,
            detail: None,
        };
        let env = c.request();
        assert_eq!(env.id, c.command_id);
        assert_eq!(env.event_type, SAGA_COMMAND);
        assert_eq!(env.aggregate_id, "ORD-1");
        assert_eq!(SagaCommand::parse(&env), Some(c.clone()));
        let applied = SagaCommand {
            status: Status::Applied,
            detail: Some("payment asked again".into()),
            ..c.clone()
        };
        let a = applied.answer("order-service", "SAGA-ORD-1");
        assert_eq!(a.id, answer_id(c.command_id));
        assert_ne!(a.id, c.command_id);
        assert_eq!(SagaCommand::parse(&a), Some(applied));
        assert_eq!(Action::parse("terminate"), Some(Action::Terminate));
        assert_eq!(Action::parse("delete"), None);
    }
}
