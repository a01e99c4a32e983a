//! The commands sent to an order's saga, for its page: what this console sent or queued
//! in a batch (`saga_commands`), what any console or tool sent (the `saga.command` requests ingest
//! stored), and the fleet's answers (the `saga.command` events with status applied or
//! rejected), joined by command id.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use std::collections::BTreeMap;
use switchyard_app::saga::{CommandView, SagaAction};

type Sent = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    bool,
    bool,
);

/// The order's commands, oldest first.
pub async fn of_order(pool: &PgPool, order_id: &str) -> sqlx::Result<Vec<CommandView>> {
    let sent: Vec<Sent> = sqlx::query_as(
        "SELECT command_id::text, action, step, phase, reason, requested_by, requested_at,
                sent_at, send_error, batch_id IS NOT NULL, cancelled_at IS NOT NULL
         FROM saga_commands WHERE order_id = $1 ORDER BY requested_at LIMIT 200",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await?;
    let mut out: BTreeMap<String, CommandView> = BTreeMap::new();
    for (id, action, step, phase, reason, by, at, sent_at, error, batched, cancelled) in sent {
        let Some(action) = SagaAction::parse(&action) else {
            continue;
        };
        let (status, detail) = match (sent_at, error) {
            (Some(_), _) => ("sent", None),
            (None, _) if cancelled => ("cancelled", Some("the batch was cancelled first".into())),
            (None, Some(e)) => ("not sent", Some(e)),
            (None, None) if batched => ("queued", Some("in a batch, not sent yet".into())),
            (None, None) => ("sending", None),
        };
        out.insert(
            id.clone(),
            CommandView {
                command_id: id,
                action,
                step,
                phase,
                reason,
                requested_by: by,
                requested_at: at,
                status: status.into(),
                detail,
                answered_at: None,
            },
        );
    }
    let said: Vec<(Value, DateTime<Utc>)> = sqlx::query_as(
        "SELECT payload, occurred_at FROM events
         WHERE aggregate_id = $1 AND event_type = 'saga.command' ORDER BY occurred_at LIMIT 400",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await?;
    for (data, at) in said {
        let text = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(id), Some(action)) = (
            text("command_id"),
            text("action").as_deref().and_then(SagaAction::parse),
        ) else {
            continue;
        };
        let status = text("status").unwrap_or_default();
        let c = out.entry(id.clone()).or_insert_with(|| CommandView {
            command_id: id,
            action,
            step: text("step"),
            phase: text("phase"),
            reason: text("reason").unwrap_or_default(),
            requested_by: text("requested_by").unwrap_or_default(),
            requested_at: at,
            status: "sent".into(),
            detail: None,
            answered_at: None,
        });
        if status == "applied" || status == "rejected" {
            c.status = status;
            c.detail = text("detail");
            c.answered_at = Some(at);
        }
    }
    let mut all: Vec<CommandView> = out.into_values().collect();
    all.sort_by_key(|c| c.requested_at);
    Ok(all)
}
