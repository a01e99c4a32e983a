//! Folding a batch of newly stored events into projection deltas, one per order.
//!
//! Pure: the writer sends the deltas to PostgreSQL in one set-based statement whose
//! `ON CONFLICT` clause merges them with what is stored. Merging is order-independent: the
//! status with the latest event time wins (ties broken by how final the status is), so
//! events of one order may arrive in any order across topics.

use super::decode::EventRow;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

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

/// One delta per order touched by `events` (only `order.*` events touch orders for now).
pub fn order_deltas<'a>(events: impl IntoIterator<Item = &'a EventRow>) -> Vec<OrderDelta> {
    let mut by_order: BTreeMap<&str, OrderDelta> = BTreeMap::new();
    for ev in events {
        let Some((status, rank)) = order_status(&ev.event_type) else {
            continue;
        };
        let d = by_order
            .entry(&ev.aggregate_id)
            .or_insert_with(|| OrderDelta {
                order_id: ev.aggregate_id.clone(),
                customer_id: None,
                status: status.to_string(),
                status_rank: rank,
                status_at: ev.occurred_at,
                total_cents: None,
                currency: None,
                item_count: None,
                failure_reason: None,
                created_at: None,
                updated_at: ev.occurred_at,
                event_count: 0,
            });
        d.event_count += 1;
        d.updated_at = d.updated_at.max(ev.occurred_at);
        if (ev.occurred_at, rank) > (d.status_at, d.status_rank) {
            d.status = status.to_string();
            d.status_rank = rank;
            d.status_at = ev.occurred_at;
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
            _ => {}
        }
    }
    by_order.into_values().collect()
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
