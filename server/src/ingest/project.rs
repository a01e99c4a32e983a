//! Folding a batch of newly stored events into projection deltas, one per order.
//!
//! Pure: the writer sends the deltas to PostgreSQL in one set-based statement whose
//! `ON CONFLICT` clause merges them with what is stored. Merging is order-independent: the
//! status with the latest event time wins (ties broken by how final the status is), so
//! events of one order may arrive in any order across topics.

use super::dead_letter::DeadLetterRow;
use super::record::{EventRow, QuarantineRow};
use super::step_fields::StepFields;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use switchyard_contract::{BREAKER_METRICS, BREAKER_TRANSITION, SAGA_STEP};

/// The change one batch makes to one order row.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderDelta {
    pub order_id: String,
    pub customer_id: Option<String>,
    pub status: String,
    pub status_rank: i16,
    pub status_at: DateTime<Utc>,
    pub total_cents: Option<i64>,
    pub currency: Option<String>,
    pub item_count: Option<i32>,
    pub failure_reason: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub event_count: i32,
    pub current_step: Option<String>,
    pub step_status: Option<String>,
    pub step_at: Option<DateTime<Utc>>,
}

/// The order status an event type implies, and how final it is (higher wins a tie).
pub fn order_status(event_type: &str) -> Option<(&'static str, i16)> {
    Some(match event_type {
        "order.created" => ("created", 0),
        "order.confirmed" => ("confirmed", 1),
        "order.completed" => ("completed", 3),
        "order.failed" => ("failed", 3),
        "order.cancelled" => ("cancelled", 3),
        _ => return None,
    })
}

/// Whether the projections read the `data` of events of this type: order status events,
/// saga steps and breaker events. Ingest parses the `data` of these types alone.
pub fn reads_data(event_type: &str) -> bool {
    order_status(event_type).is_some()
        || matches!(event_type, SAGA_STEP | BREAKER_TRANSITION | BREAKER_METRICS)
}

/// Status time of an order known only from its saga steps so far: any real status wins.
pub fn no_status_yet() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// One delta per order touched by `events`: `order.*` events set status and totals,
/// `saga.step` events set the current step.
pub fn order_deltas<'a>(events: impl IntoIterator<Item = &'a EventRow>) -> Vec<OrderDelta> {
    let mut by_order: BTreeMap<&str, OrderDelta> = BTreeMap::new();
    for ev in events {
        let (status, rank, status_at) = match order_status(&ev.event_type) {
            Some((s, r)) => (s, r, ev.occurred_at),
            None if ev.event_type == SAGA_STEP => ("pending", -1, no_status_yet()),
            None => continue,
        };
        let d = by_order
            .entry(&ev.aggregate_id)
            .or_insert_with(|| OrderDelta {
                order_id: ev.aggregate_id.clone(),
                customer_id: None,
                status: status.to_string(),
                status_rank: rank,
                status_at,
                total_cents: None,
                currency: None,
                item_count: None,
                failure_reason: None,
                created_at: None,
                updated_at: ev.occurred_at,
                event_count: 0,
                current_step: None,
                step_status: None,
                step_at: None,
            });
        d.event_count += 1;
        d.updated_at = d.updated_at.max(ev.occurred_at);
        if (status_at, rank) > (d.status_at, d.status_rank) {
            d.status = status.to_string();
            d.status_rank = rank;
            d.status_at = status_at;
        }
        let data = &ev.data;
        match ev.event_type.as_str() {
            "order.created" => {
                d.created_at = Some(ev.occurred_at);
                d.customer_id = data["customer_id"].as_str().map(str::to_string);
                d.total_cents = data["total_cents"].as_i64();
                d.currency = data["currency"].as_str().map(str::to_string);
                d.item_count = data["items"].as_array().map(|a| {
                    a.iter()
                        .map(|i| i["quantity"].as_i64().unwrap_or(1))
                        .sum::<i64>()
                        .clamp(0, i32::MAX as i64) as i32
                });
            }
            "order.failed" | "order.cancelled" => {
                d.failure_reason = data["reason"].as_str().map(str::to_string);
            }
            SAGA_STEP => {
                if let Some(step) = saga_step(ev) {
                    if d.step_at.is_none_or(|t| step.at >= t) {
                        d.current_step = Some(format!("{}:{}", step.step, step.action));
                        d.step_status = Some(step.status);
                        d.step_at = Some(step.at);
                    }
                }
            }
            _ => {}
        }
    }
    by_order.into_values().collect()
}

/// One `saga.step` event, as the timeline shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct SagaStepRow {
    pub saga_id: String,
    pub order_id: String,
    pub step: String,
    pub action: String,
    pub status: String,
    pub error: Option<String>,
    pub attempt: i32,
    pub at: DateTime<Utc>,
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// The event's own time field `at` when present and readable, else its envelope time.
fn at(ev: &EventRow) -> DateTime<Utc> {
    time_or(ev.data.get("at").and_then(Value::as_str), ev.occurred_at)
}

/// `at` read as an RFC 3339 time when it is one, else `or`.
fn time_or(at: Option<&str>, or: DateTime<Utc>) -> DateTime<Utc> {
    at.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(or)
}

/// Whether the decoder parses an event's data into a tree: what the projections read,
/// except saga steps, whose few fields [`saga_step`] reads straight from the stored text.
pub fn parses_data(event_type: &str) -> bool {
    reads_data(event_type) && event_type != SAGA_STEP
}

/// A step's fields as stored (from the text the decoder kept, or from the tree); `None`
/// unless they record a step: a step and a status.
fn step_fields(ev: &EventRow) -> Option<StepFields<'_>> {
    let fields = match &ev.payload {
        // The decoder kept the text and left the tree out ([`parses_data`]).
        Some(text) if ev.data.is_null() => StepFields::of_text(text.get())?,
        _ => StepFields::of_value(&ev.data),
    };
    (fields.step.is_some() && fields.status.is_some()).then_some(fields)
}

/// The step a `saga.step` event records; `None` without a step and a status.
pub fn saga_step(ev: &EventRow) -> Option<SagaStepRow> {
    let fields = step_fields(ev)?;
    let or_aggregate =
        |f: Option<Cow<str>>| f.map_or_else(|| ev.aggregate_id.clone(), Cow::into_owned);
    Some(SagaStepRow {
        step: fields.step?.into_owned(),
        status: fields.status?.into_owned(),
        saga_id: or_aggregate(fields.saga_id),
        order_id: or_aggregate(fields.order_id),
        action: fields
            .action
            .map_or_else(|| "execute".into(), Cow::into_owned),
        error: fields.error.map(Cow::into_owned),
        attempt: fields.attempt.unwrap_or(1).clamp(0, i32::MAX as i64) as i32,
        at: time_or(fields.at.as_deref(), ev.occurred_at),
    })
}

/// What the event store keeps of a saga step beside its payload (migration
/// `20261211000010`, the `saga_steps` view): the step's own time, which only an event that
/// projects a step has, and its order id when that is not the event's aggregate id.
/// `None` for every other event.
pub fn step_columns(ev: &EventRow) -> Option<(DateTime<Utc>, Option<String>)> {
    if ev.event_type != SAGA_STEP {
        return None;
    }
    // What [`saga_step`] reads, borrowed: only an order id that differs is copied.
    let fields = step_fields(ev)?;
    let order = fields.order_id.filter(|o| **o != *ev.aggregate_id);
    Some((
        time_or(fields.at.as_deref(), ev.occurred_at),
        order.map(Cow::into_owned),
    ))
}

/// One `breaker.transition` event.
#[derive(Clone, Debug, PartialEq)]
pub struct TransitionRow {
    pub service: String,
    pub breaker: String,
    pub from_state: String,
    pub to_state: String,
    pub failure_count: Option<i64>,
    pub success_count: Option<i64>,
    pub failure_rate: Option<f64>,
    pub at: DateTime<Utc>,
}

pub fn transition(ev: &EventRow) -> Option<TransitionRow> {
    let d = &ev.data;
    Some(TransitionRow {
        service: text(d, "service").unwrap_or_else(|| ev.aggregate_id.clone()),
        breaker: text(d, "breaker")?,
        from_state: text(d, "from")?,
        to_state: text(d, "to")?,
        failure_count: d.get("failure_count").and_then(Value::as_i64),
        success_count: d.get("success_count").and_then(Value::as_i64),
        failure_rate: d.get("failure_rate").and_then(Value::as_f64),
        at: at(ev),
    })
}

/// The change one batch makes to one breaker's current row. A part not seen in the batch
/// carries the oldest possible time, so the stored value wins the merge.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerDelta {
    pub service: String,
    pub breaker: String,
    pub state: String,
    pub state_at: DateTime<Utc>,
    pub failure_rate: Option<f64>,
    pub slow_call_rate: Option<f64>,
    pub calls: Option<i64>,
    pub failures: Option<i64>,
    pub slow_calls: Option<i64>,
    pub not_permitted: Option<i64>,
    pub metrics_at: Option<DateTime<Utc>>,
}

pub fn breaker_deltas<'a>(events: impl IntoIterator<Item = &'a EventRow>) -> Vec<BreakerDelta> {
    let mut by_breaker: BTreeMap<(String, String), BreakerDelta> = BTreeMap::new();
    for ev in events {
        if !matches!(ev.event_type.as_str(), BREAKER_TRANSITION | BREAKER_METRICS) {
            continue;
        }
        let d = &ev.data;
        let Some(breaker) = text(d, "breaker") else {
            continue;
        };
        let service = text(d, "service").unwrap_or_else(|| ev.aggregate_id.clone());
        let entry = by_breaker
            .entry((service.clone(), breaker.clone()))
            .or_insert_with(|| BreakerDelta {
                service,
                breaker,
                state: "unknown".into(),
                state_at: no_status_yet(),
                failure_rate: None,
                slow_call_rate: None,
                calls: None,
                failures: None,
                slow_calls: None,
                not_permitted: None,
                metrics_at: None,
            });
        let t = at(ev);
        match ev.event_type.as_str() {
            BREAKER_TRANSITION => {
                if let Some(to) = text(d, "to") {
                    if t >= entry.state_at {
                        entry.state = to;
                        entry.state_at = t;
                    }
                }
            }
            BREAKER_METRICS if entry.metrics_at.is_none_or(|m| t >= m) => {
                let int = |k: &str| d.get(k).and_then(Value::as_i64);
                entry.calls = int("calls");
                entry.failures = int("failures");
                entry.slow_calls = int("slow").or_else(|| int("slow_calls"));
                entry.not_permitted = int("not_permitted");
                entry.failure_rate = d.get("failure_rate").and_then(Value::as_f64);
                entry.slow_call_rate = d.get("slow_call_rate").and_then(Value::as_f64);
                entry.metrics_at = Some(t);
                // A snapshot that names the state is as good as a transition at its time.
                if let Some(state) = text(d, "state") {
                    if t >= entry.state_at {
                        entry.state = state;
                        entry.state_at = t;
                    }
                }
            }
            _ => {}
        }
    }
    by_breaker.into_values().collect()
}

fn minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t)
}

/// Per-minute counts: events by type, dead letters by original topic, quarantined records.
pub fn rollups<'a>(
    events: impl IntoIterator<Item = &'a EventRow>,
    dead_letters: impl IntoIterator<Item = &'a DeadLetterRow>,
    quarantined: impl IntoIterator<Item = &'a QuarantineRow>,
    now: DateTime<Utc>,
) -> BTreeMap<(DateTime<Utc>, String), i64> {
    // Keyed by the events' own type names while counting: a batch holds thousands of
    // events and a handful of kinds.
    let mut by_type: HashMap<(DateTime<Utc>, &str), i64> = HashMap::new();
    for ev in events {
        *by_type
            .entry((minute(ev.occurred_at), ev.event_type.as_str()))
            .or_default() += 1;
    }
    let mut counts: BTreeMap<(DateTime<Utc>, String), i64> = by_type
        .into_iter()
        .map(|((m, kind), n)| ((m, kind.to_string()), n))
        .collect();
    for dl in dead_letters {
        *counts
            .entry((minute(dl.failed_at), format!("dlq:{}", dl.original_topic)))
            .or_default() += 1;
    }
    for _ in quarantined {
        *counts
            .entry((minute(now), "quarantine".into()))
            .or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(t: &str, id: &str, secs: i64, data: serde_json::Value) -> EventRow {
        EventRow {
            topic: t.into(),
            partition: 0,
            offset: 0,
            key: None,
            event_id: None,
            event_type: t.into(),
            aggregate_id: id.into(),
            aggregate_version: None,
            occurred_at: DateTime::from_timestamp(secs, 0).unwrap(),
            source: None,
            correlation_id: None,
            causation_id: None,
            headers: json!([]),
            data,
            payload: None,
        }
    }

    #[test]
    fn later_status_wins_whatever_the_arrival_order() {
        let created = ev(
            "order.created",
            "A",
            10,
            json!({"customer_id": "c", "total_cents": 900,
            "currency": "EUR", "items": [{"quantity": 2}, {"quantity": 1}]}),
        );
        let done = ev("order.completed", "A", 20, json!({}));
        for events in [vec![created.clone(), done.clone()], vec![done, created]] {
            let d = order_deltas(&events);
            assert_eq!(d.len(), 1);
            assert_eq!(d[0].status, "completed");
            assert_eq!(d[0].customer_id.as_deref(), Some("c"));
            assert_eq!(d[0].item_count, Some(3));
            assert_eq!(d[0].event_count, 2);
            assert_eq!(d[0].updated_at.timestamp(), 20);
        }
    }

    #[test]
    fn saga_steps_set_the_current_step_even_before_the_order_is_known() {
        let step = |s: &str, action: &str, status: &str, secs: i64| {
            ev(
                "saga.step",
                "C",
                secs,
                json!({"saga_id": "S", "order_id": "C", "step": s,
                "action": action, "status": status, "at": format!("2026-01-01T00:00:{secs:02}Z")}),
            )
        };
        let events = vec![
            step("payment", "execute", "failed", 30),
            step("inventory", "compensate", "succeeded", 40),
        ];
        let d = order_deltas(&events);
        assert_eq!(d[0].status, "pending");
        assert_eq!(d[0].status_at, no_status_yet());
        assert_eq!(d[0].current_step.as_deref(), Some("inventory:compensate"));
        // A created event, even an older one, gives the order its real status.
        let mut with_created = events.clone();
        with_created.push(ev("order.created", "C", 1, json!({})));
        assert_eq!(order_deltas(&with_created)[0].status, "created");
        let row = saga_step(&events[0]).unwrap();
        assert_eq!(
            (row.step.as_str(), row.status.as_str(), row.attempt),
            ("payment", "failed", 1)
        );
    }

    #[test]
    fn a_steps_stored_columns_are_its_time_and_an_order_other_than_its_aggregate() {
        let step = |agg: &str, data: serde_json::Value| ev("saga.step", agg, 10, data);
        for (e, order) in [
            (
                step("O", json!({"order_id": "O", "step": "a", "status": "s"})),
                None,
            ),
            (step("O", json!({"step": "a", "status": "s"})), None),
            (
                step(
                    "S",
                    json!({"order_id": "O", "step": "a", "status": "s",
                "at": "2026-01-01T00:00:30Z"}),
                ),
                Some("O"),
            ),
        ] {
            let row = saga_step(&e).unwrap();
            assert_eq!(step_columns(&e), Some((row.at, order.map(str::to_string))));
        }
        assert_eq!(step_columns(&step("O", json!({"step": "a"}))), None);
        assert_eq!(step_columns(&ev("order.created", "O", 1, json!({}))), None);
    }

    #[test]
    fn a_step_kept_as_text_projects_as_its_parsed_tree_does() {
        let data = json!({"saga_id": "S", "order_id": "O", "step": "payment",
            "action": "compensate", "status": "failed", "error": "card declined",
            "attempt": 2, "at": "2026-01-01T00:00:30+01:00"});
        let parsed = ev("saga.step", "O", 10, data.clone());
        let mut text = parsed.clone();
        text.data = Value::Null;
        text.payload = Some(serde_json::value::to_raw_value(&data).unwrap());
        assert_eq!(saga_step(&text), saga_step(&parsed));
        assert_eq!(saga_step(&text).unwrap().at.timestamp(), 1_767_222_030);
        assert_eq!(order_deltas([&text]), order_deltas([&parsed]));
        // Without a status there is no step, from either.
        text.payload = Some(serde_json::value::to_raw_value(&json!({"step": "x"})).unwrap());
        assert_eq!(saga_step(&text), None);
    }

    #[test]
    fn breaker_state_and_metrics_merge_by_their_own_times() {
        let tr = |to: &str, at: &str| {
            ev(
                "breaker.transition",
                "payment",
                0,
                json!({"service": "payment",
            "breaker": "gateway", "from": "CLOSED", "to": to, "at": at}),
            )
        };
        let metrics = ev(
            "breaker.metrics",
            "payment",
            0,
            json!({"service": "payment", "breaker": "gateway",
            "calls": 10, "failures": 6, "slow": 1, "not_permitted": 3, "failure_rate": 0.6,
            "at": "2026-01-01T00:00:05Z"}),
        );
        let events = vec![
            tr("OPEN", "2026-01-01T00:00:10Z"),
            tr("HALF_OPEN", "2026-01-01T00:00:02Z"),
            metrics,
        ];
        let d = breaker_deltas(&events);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].state, "OPEN");
        assert_eq!(
            (d[0].calls, d[0].not_permitted, d[0].slow_calls),
            (Some(10), Some(3), Some(1))
        );
        assert_eq!(transition(&events[0]).unwrap().to_state, "OPEN");
    }

    #[test]
    fn rollups_count_per_minute_and_kind() {
        let events = vec![
            ev("order.created", "A", 5, json!({})),
            ev("order.created", "B", 50, json!({})),
            ev("order.created", "C", 61, json!({})),
        ];
        let r = rollups(&events, [], [], Utc::now());
        let t0 = DateTime::from_timestamp(0, 0).unwrap();
        assert_eq!(r[&(t0, "order.created".to_string())], 2);
        assert_eq!(r.values().sum::<i64>(), 3);
    }

    #[test]
    fn final_status_wins_a_tie_and_other_topics_are_ignored() {
        let events = vec![
            ev("order.failed", "B", 5, json!({"reason": "card declined"})),
            ev("order.confirmed", "B", 5, json!({})),
            ev("payment.completed", "B", 6, json!({})),
        ];
        let d = order_deltas(&events);
        assert_eq!(d[0].status, "failed");
        assert_eq!(d[0].failure_reason.as_deref(), Some("card declined"));
        assert_eq!(d[0].event_count, 2);
    }
}
