//! What the order page shows and sends about saga actions. The action names are the
//! contract's (`switchyard_contract::saga_command::Action`; a server test keeps the two
//! lists equal — this crate also compiles to wasm, where the contract crate cannot).

use crate::ops::SagaStepView;
use crate::states::OrderStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The order saga's steps, in execution order (the fleet's `ORDER_STEPS`).
pub const ORDER_STEPS: [&str; 3] = ["inventory", "payment", "shipment"];

/// The longest reason kept (it is the record of why).
pub const MAX_REASON: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SagaAction {
    RetryStep,
    Compensate,
    Terminate,
}

impl SagaAction {
    pub const ALL: [SagaAction; 3] = [
        SagaAction::RetryStep,
        SagaAction::Compensate,
        SagaAction::Terminate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SagaAction::RetryStep => "retry_step",
            SagaAction::Compensate => "compensate",
            SagaAction::Terminate => "terminate",
        }
    }

    pub fn parse(s: &str) -> Option<SagaAction> {
        SagaAction::ALL.into_iter().find(|a| a.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            SagaAction::RetryStep => "Retry step",
            SagaAction::Compensate => "Force compensation",
            SagaAction::Terminate => "Terminate",
        }
    }

    /// One line for the order page and the admin page.
    pub fn explain(self) -> &'static str {
        match self {
            SagaAction::RetryStep => {
                "ask the step the saga waits on again (a failed undo is tried again)"
            }
            SagaAction::Compensate => "stop going forward and undo what was done, latest first",
            SagaAction::Terminate => "end the saga where it is: the order fails, nothing is undone",
        }
    }
}

/// The step a saga waits on: `phase` is `execute` or `compensate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingOn {
    pub step: String,
    pub phase: String,
    /// A failed undo: the saga stopped and needs an operator.
    pub stuck: bool,
}

impl WaitingOn {
    pub fn describe(&self) -> String {
        match (self.phase.as_str(), self.stuck) {
            (_, true) => format!("stuck: undoing {} failed", self.step),
            ("compensate", _) => format!("undoing {}", self.step),
            _ => self.step.clone(),
        }
    }
}

/// What the saga waits on, from its timeline (steps in time order), or `None` when it has
/// ended or not begun: the step started without an outcome, the one after a success, the
/// undo before an undone or failed step, or an undo that failed (stuck).
pub fn waiting_on(steps: &[SagaStepView]) -> Option<WaitingOn> {
    let last = steps.last()?;
    let i = ORDER_STEPS.iter().position(|s| *s == last.step)?;
    let at = |i: usize, phase: &str, stuck| {
        Some(WaitingOn {
            step: ORDER_STEPS[i].to_string(),
            phase: phase.to_string(),
            stuck,
        })
    };
    match (last.action.as_str(), last.status.as_str()) {
        (phase, "started") => at(i, phase, false),
        ("execute", "succeeded") if i + 1 < ORDER_STEPS.len() => at(i + 1, "execute", false),
        ("execute", "failed") | ("compensate", "succeeded") if i > 0 => {
            at(i - 1, "compensate", false)
        }
        ("compensate", "failed") => at(i, "compensate", true),
        _ => None,
    }
}

/// What an operator may act on: the step the saga waits on, unless the order has ended —
/// completed, cancelled, failed other than by a failed undo (stuck), or terminated by a
/// command the order service applied.
pub fn actionable(
    status: OrderStatus,
    steps: &[SagaStepView],
    commands: &[CommandView],
) -> Option<WaitingOn> {
    let terminated = commands
        .iter()
        .any(|c| c.action == SagaAction::Terminate && c.status == "applied");
    let w = waiting_on(steps).filter(|_| !terminated)?;
    match status {
        OrderStatus::Completed | OrderStatus::Cancelled => None,
        OrderStatus::Failed if !w.stuck => None,
        _ => Some(w),
    }
}

/// The last step an order's projection names (`orders.current_step` as `step:action`, and
/// `step_status`) as a timeline line: all [`actionable`] needs of a timeline.
pub fn last_step(current_step: Option<&str>, step_status: Option<&str>) -> Option<SagaStepView> {
    let (step, action) = current_step?.split_once(':')?;
    Some(SagaStepView {
        step: step.to_string(),
        action: action.to_string(),
        status: step_status?.to_string(),
        error: None,
        attempt: 1,
        at: DateTime::<Utc>::UNIX_EPOCH,
    })
}

/// Orders one batch may act on at most (the preview says when the filter matches more).
pub const MAX_BATCH: i64 = 10_000;

/// What a batch would do: how many orders the filter matches, how many of them can be acted
/// on (not ended), and what those wait on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchPreview {
    pub matched: i64,
    pub actionable: i64,
    /// (what they wait on, how many), most first.
    pub waiting_on: Vec<(String, i64)>,
    /// The filter matched more than [`MAX_BATCH`]: only the newest are in the batch.
    pub capped: bool,
}

/// The orders list's filter as a batch form carries it (`filter[status]`, …; the list's
/// query-string keys), read the way the list reads its query string.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchFilter {
    pub status: Option<String>,
    pub step: Option<String>,
    pub q: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl BatchFilter {
    pub fn of(filter: &crate::console::OrderFilter) -> BatchFilter {
        let mut out = BatchFilter::default();
        for (k, v) in filter.query() {
            match k {
                "status" => out.status = Some(v),
                "step" => out.step = Some(v),
                "q" => out.q = Some(v),
                "from" => out.from = Some(v),
                "to" => out.to = Some(v),
                _ => {}
            }
        }
        out
    }

    pub fn to_filter(&self) -> crate::console::OrderFilter {
        let pairs = [
            ("status", &self.status),
            ("step", &self.step),
            ("q", &self.q),
            ("from", &self.from),
            ("to", &self.to),
        ];
        crate::console::OrderFilter::from_pairs(
            |k| pairs.iter().find(|p| p.0 == k).and_then(|p| p.1.as_deref()),
            1,
        )
    }
}

/// A batch as the operator's confirm form sends it, checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRequest {
    pub filter: crate::console::OrderFilter,
    pub action: SagaAction,
    pub reason: String,
    /// Commands a second, 0 for as fast as the broker takes them.
    pub throttle: u32,
    /// How many orders the preview said it would act on: a batch whose set changed since
    /// is refused, so an operator never confirms one number and gets another.
    pub expect: Option<i64>,
}

/// One batch of saga commands and how far it got: `sent + cancelled + queued = total`;
/// `applied` and `rejected` count the fleet's answers ingested so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchJobView {
    pub id: String,
    pub action: SagaAction,
    pub reason: String,
    /// `running`, `completed` or `cancelled`.
    pub status: String,
    pub throttle: i32,
    pub total: i64,
    pub sent: i64,
    pub cancelled: i64,
    pub queued: i64,
    pub applied: i64,
    pub rejected: i64,
    /// The filter in words (`status=created step=payment:execute`).
    pub filter: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it is not sending right now (writes switched off, the broker refusing).
    pub note: Option<String>,
}

/// A command as the operator's form sends it, checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRequest {
    pub order_id: String,
    pub action: SagaAction,
    pub step: Option<String>,
    pub phase: Option<String>,
    pub reason: String,
}

impl CommandRequest {
    /// Checks the form's fields; the message says what is wrong.
    pub fn from_form(
        order_id: &str,
        action: &str,
        step: Option<String>,
        phase: Option<String>,
        reason: &str,
    ) -> Result<CommandRequest, String> {
        let order_id = order_id.trim();
        if order_id.is_empty() || order_id.len() > 200 {
            return Err("an order id of 1 to 200 characters is needed".into());
        }
        let action = SagaAction::parse(action).ok_or_else(|| {
            format!("no saga action {action:?} (retry_step, compensate or terminate)")
        })?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err("a reason is required: it is the record of why".into());
        }
        if reason.chars().count() > MAX_REASON {
            return Err(format!("the reason is longer than {MAX_REASON} characters"));
        }
        let step = step.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        if let Some(s) = &step {
            if !ORDER_STEPS.contains(&s.as_str()) {
                return Err(format!("no step {s:?} (inventory, payment or shipment)"));
            }
        }
        let phase = phase
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        if let Some(p) = &phase {
            if p != "execute" && p != "compensate" {
                return Err(format!("no phase {p:?} (execute or compensate)"));
            }
        }
        Ok(CommandRequest {
            order_id: order_id.to_string(),
            action,
            step,
            phase,
            reason: reason.to_string(),
        })
    }
}

/// One command on the order's timeline: sent (by this console or another), and answered
/// by the fleet's order service once its answer is ingested.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandView {
    pub command_id: String,
    pub action: SagaAction,
    pub step: Option<String>,
    pub phase: Option<String>,
    pub reason: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// `sent`, `applied` or `rejected`.
    pub status: String,
    /// What the order service did, or why not.
    pub detail: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
}

impl CommandView {
    pub fn describe(&self) -> String {
        let what = match (&self.step, self.action) {
            (Some(step), SagaAction::RetryStep) => format!("{} ({step})", self.action.label()),
            _ => self.action.label().to_string(),
        };
        format!("{what} by {}: {}", self.requested_by, self.reason)
    }
}

/// The actions panel of an order: which actions are switched on, what the saga waits on,
/// and the commands sent so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SagaActionsView {
    pub enabled: Vec<SagaAction>,
    pub waiting_on: Option<WaitingOn>,
    pub commands: Vec<CommandView>,
    /// The breaker in front of the step it waits on, when it is not closed
    /// (`payment-gateway OPEN since 10:42:03 UTC`): a retry now would fail fast.
    #[serde(default)]
    pub breaker_not_closed: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(step: &str, action: &str, status: &str) -> SagaStepView {
        SagaStepView {
            step: step.into(),
            action: action.into(),
            status: status.into(),
            error: None,
            attempt: 1,
            at: DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn the_saga_waits_on_what_its_timeline_says() {
        let w = |steps: &[SagaStepView]| waiting_on(steps).map(|w| w.describe());
        assert_eq!(w(&[]), None);
        assert_eq!(
            w(&[step("inventory", "execute", "succeeded")]),
            Some("payment".into())
        );
        assert_eq!(
            w(&[step("payment", "execute", "started")]),
            Some("payment".into())
        );
        assert_eq!(
            w(&[step("payment", "execute", "failed")]),
            Some("undoing inventory".into())
        );
        assert_eq!(w(&[step("inventory", "execute", "failed")]), None);
        assert_eq!(
            w(&[step("payment", "compensate", "succeeded")]),
            Some("undoing inventory".into())
        );
        assert_eq!(
            w(&[step("payment", "compensate", "failed")]),
            Some("stuck: undoing payment failed".into())
        );
        assert_eq!(w(&[step("shipment", "execute", "succeeded")]), None);
        assert_eq!(w(&[step("inventory", "compensate", "succeeded")]), None);
    }

    #[test]
    fn ended_orders_offer_nothing_but_a_stuck_undo() {
        let pending = [step("payment", "execute", "started")];
        let stuck = [step("payment", "compensate", "failed")];
        assert!(actionable(OrderStatus::Created, &pending, &[]).is_some());
        assert!(actionable(OrderStatus::Failed, &pending, &[]).is_none());
        assert!(actionable(OrderStatus::Completed, &pending, &[]).is_none());
        assert!(actionable(OrderStatus::Failed, &stuck, &[]).is_some());
        let terminate = |status: &str| CommandView {
            command_id: "c".into(),
            action: SagaAction::Terminate,
            step: None,
            phase: None,
            reason: "r".into(),
            requested_by: "ada".into(),
            requested_at: DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap(),
            status: status.into(),
            detail: None,
            answered_at: None,
        };
        assert!(actionable(OrderStatus::Created, &pending, &[terminate("sent")]).is_some());
        assert!(actionable(OrderStatus::Created, &pending, &[terminate("applied")]).is_none());
    }

    #[test]
    fn a_command_form_needs_an_action_an_order_and_a_reason() {
        let ok = CommandRequest::from_form(
            " ORD-1 ",
            "retry_step",
            Some("payment".into()),
            Some("execute".into()),
            " gateway is back ",
        )
        .unwrap();
        assert_eq!(ok.order_id, "ORD-1");
        assert_eq!(ok.reason, "gateway is back");
        let err = |a: &str, step: Option<&str>, reason: &str| {
            CommandRequest::from_form("ORD-1", a, step.map(String::from), None, reason).unwrap_err()
        };
        assert!(err("retry_step", None, "  ").contains("reason is required"));
        assert!(err("delete", None, "x").contains("no saga action"));
        assert!(err("retry_step", Some("billing"), "x").contains("no step"));
        assert!(err("terminate", None, &"x".repeat(1001)).contains("longer than"));
        assert!(CommandRequest::from_form("", "terminate", None, None, "x").is_err());
    }
}
