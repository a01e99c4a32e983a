//! The assistant's tools: what the model is told about them and how a call runs.
//!
//! Every tool only reads. Each call runs in a `READ ONLY` PostgreSQL transaction that is
//! rolled back afterwards, and no tool holds a Kafka producer or any secret, so whatever a
//! model is talked into (by a dead-letter payload, say) a tool call cannot change anything
//! or reveal a key. `propose_replay` computes a dry run and returns a proposal; only an
//! operator's click on the proposal card starts a replay.

use super::backend::ToolSpec;
use super::{proposal, ts};
use crate::read_model::like_escape;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::{PgPool, Postgres, Transaction};
use switchyard_app::assistant::{Citation, ReplayProposal};
use switchyard_app::ops::{order_href, OpsApi};

/// What a tool call gave back.
#[derive(Debug, Default)]
pub struct ToolOutput {
    /// The result the model (or the offline templates) reads.
    pub content: Value,
    /// Records the result is about, linked in the answer.
    pub citations: Vec<Citation>,
    /// Replays proposed to the operator (only `propose_replay` fills this).
    pub proposals: Vec<ReplayProposal>,
}

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("unknown tool {0:?} (tools are read-only; nothing can be executed)")]
    Unknown(String),
    #[error("bad arguments: {0}")]
    BadArgs(String),
    #[error("read model: {0}")]
    Db(#[from] sqlx::Error),
    #[error("read model: {0}")]
    Ops(String),
}

pub const ORDER_STATUS: &str = "order_status";
pub const SEARCH_ORDERS: &str = "search_orders";
pub const RECENT_FAILURES: &str = "recent_failures";
pub const DLQ_SUMMARY: &str = "dlq_summary";
pub const BREAKER_STATES: &str = "breaker_states";
pub const BREAKER_HISTORY: &str = "breaker_history";
pub const EVENT_LOOKUP: &str = "event_lookup";
pub const PROPOSE_REPLAY: &str = "propose_replay";
pub const KPIS: &str = "kpis";
pub const INCIDENT_SUMMARY: &str = "incident_summary";

/// Every tool's name, in the order they are offered.
pub const ALL: [&str; 10] = [
    ORDER_STATUS,
    SEARCH_ORDERS,
    RECENT_FAILURES,
    DLQ_SUMMARY,
    BREAKER_STATES,
    BREAKER_HISTORY,
    EVENT_LOOKUP,
    PROPOSE_REPLAY,
    KPIS,
    INCIDENT_SUMMARY,
];

fn time_props() -> Value {
    json!({
        "since": {"type": "string", "format": "date-time", "description": "RFC 3339 instant; only records at or after it"},
        "until": {"type": "string", "format": "date-time", "description": "RFC 3339 instant; only records before it"}
    })
}

fn schema(props: Value, required: &[&str]) -> Value {
    let mut all = time_props();
    let obj = all.as_object_mut().expect("object");
    for (k, v) in props.as_object().expect("object") {
        obj.insert(k.clone(), v.clone());
    }
    json!({"type": "object", "properties": all, "required": required})
}

/// The tools as the model is told about them.
pub fn specs() -> Vec<ToolSpec> {
    let dl_filter = json!({
        "topic": {"type": "string", "description": "exact original topic, e.g. payment.completed"},
        "service": {"type": "string", "description": "service whose topics to include: order, inventory, payment, shipment, notification"},
        "error": {"type": "string", "description": "case-insensitive substring of the exception message or class"},
        "status": {"type": "string", "enum": ["pending", "replaying", "replayed", "failed_again", "parked", "discarded"]},
        "key": {"type": "string", "description": "record key (exact), usually an order id"}
    });
    vec![
        ToolSpec {
            name: ORDER_STATUS,
            description: "One order: status, failure reason, saga timeline (execute and compensate steps) and its dead letters.",
            input_schema: json!({"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}),
        },
        ToolSpec {
            name: SEARCH_ORDERS,
            description: "Find orders by status, customer (id or name), correlation id or id fragment, newest first.",
            input_schema: schema(
                json!({
                    "status": {"type": "string", "enum": ["pending", "created", "confirmed", "completed", "failed", "cancelled", "compensating"], "description": "compensating: orders whose saga is undoing its steps"},
                    "customer_id": {"type": "string", "description": "a customer id (CUST-0042) or a part of one, e.g. a name"},
                    "correlation_id": {"type": "string", "description": "an event correlation id (e.g. a saga id): the orders it belongs to"},
                    "text": {"type": "string", "description": "substring of the order id or failure reason"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 50}
                }),
                &[],
            ),
        },
        ToolSpec {
            name: RECENT_FAILURES,
            description: "Failed or cancelled orders and failed saga steps, grouped by step and error (default: the last hour).",
            input_schema: schema(
                json!({"service": {"type": "string", "description": "saga step / service: inventory, payment, shipment"}}),
                &[],
            ),
        },
        ToolSpec {
            name: DLQ_SUMMARY,
            description: "Dead letters counted by original topic, error and status.",
            input_schema: schema(dl_filter.clone(), &[]),
        },
        ToolSpec {
            name: BREAKER_STATES,
            description: "Current circuit-breaker state of every service's dependency (inventory: warehouse-api, payment: payment-gateway, shipment: carrier-api), with failure rate and calls.",
            input_schema: json!({"type": "object", "properties": {
                "service": {"type": "string", "description": "service or breaker name"},
                "state": {"type": "string", "enum": ["closed", "open", "half_open", "disabled", "forced_open"]},
                "not_state": {"type": "string", "enum": ["closed", "open", "half_open", "disabled", "forced_open"], "description": "only breakers NOT in this state (\"not closed\")"}
            }}),
        },
        ToolSpec {
            name: BREAKER_HISTORY,
            description: "Circuit-breaker transitions over time, newest first (default: the last hour).",
            input_schema: schema(json!({"service": {"type": "string"}}), &[]),
        },
        ToolSpec {
            name: EVENT_LOOKUP,
            description: "Stored events by event id, order id, correlation id or event type, newest first, with a payload preview.",
            input_schema: schema(
                json!({
                    "correlation_id": {"type": "string"},
                    "event_id": {"type": "string", "description": "the event's UUID or the console's numeric event id"},
                    "order_id": {"type": "string"},
                    "event_type": {"type": "string", "description": "e.g. payment.failed"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 50}
                }),
                &[],
            ),
        },
        ToolSpec {
            name: PROPOSE_REPLAY,
            description: "Propose replaying the dead letters matching a filter. Runs nothing: returns the filter and a dry run (how many would go to which topic, by error) for an operator to confirm or not. Default status: pending.",
            input_schema: schema(dl_filter, &[]),
        },
        ToolSpec {
            name: KPIS,
            description: "The overview page's key figures for a window (default: the last hour): orders per minute, completion rate, saga duration p50/p95, dead-letter inflow and depth, open breakers — with the previous window of the same length to compare.",
            input_schema: schema(json!({}), &[]),
        },
        ToolSpec {
            name: INCIDENT_SUMMARY,
            description: "What happened to a service (or all) in a window (default: the last hour): breaker transitions grouped into outages (start, end, duration, re-openings), failed orders and dead letters still waiting, with links.",
            input_schema: schema(json!({"service": {"type": "string", "description": "inventory, payment, shipment, or a breaker name"}}), &[]),
        },
    ]
}

/// The arguments of every tool, all optional; each tool reads the ones it takes.
#[derive(Debug, Default, Deserialize)]
struct Args {
    order_id: Option<String>,
    status: Option<String>,
    customer_id: Option<String>,
    correlation_id: Option<String>,
    text: Option<String>,
    service: Option<String>,
    topic: Option<String>,
    error: Option<String>,
    key: Option<String>,
    state: Option<String>,
    not_state: Option<String>,
    event_id: Option<String>,
    event_type: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    limit: Option<i64>,
}

fn args(input: &Value) -> Result<Args, ToolError> {
    if !input.is_object() {
        return Err(ToolError::BadArgs("arguments must be a JSON object".into()));
    }
    // Empty strings from models mean "not given".
    let mut v = input.clone();
    if let Some(o) = v.as_object_mut() {
        o.retain(|_, x| !(x.is_null() || x.as_str().is_some_and(|s| s.trim().is_empty())));
    }
    let a: Args = serde_json::from_value(v).map_err(|e| ToolError::BadArgs(e.to_string()))?;
    for s in [
        &a.order_id,
        &a.text,
        &a.error,
        &a.key,
        &a.event_id,
        &a.customer_id,
        &a.correlation_id,
    ]
    .into_iter()
    .flatten()
    {
        if s.len() > 200 {
            return Err(ToolError::BadArgs(
                "an argument is longer than 200 bytes".into(),
            ));
        }
    }
    Ok(a)
}

fn order_cite(id: &str) -> Citation {
    Citation {
        label: id.to_string(),
        href: order_href(id),
    }
}

/// Runs one tool call. `now` anchors the default time windows.
pub async fn run(
    pool: &PgPool,
    name: &str,
    input: &Value,
    now: DateTime<Utc>,
) -> Result<ToolOutput, ToolError> {
    if !ALL.contains(&name) {
        return Err(ToolError::Unknown(name.to_string()));
    }
    let a = args(input)?;
    if name == ORDER_STATUS {
        return order_status(pool, a).await;
    }
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION READ ONLY")
        .execute(&mut *tx)
        .await?;
    let out = match name {
        SEARCH_ORDERS => search_orders(&mut tx, a).await,
        RECENT_FAILURES => recent_failures(&mut tx, a, now).await,
        DLQ_SUMMARY => dlq_summary(&mut tx, a).await,
        BREAKER_STATES => breaker_states(&mut tx, a).await,
        BREAKER_HISTORY => breaker_history(&mut tx, a, now).await,
        EVENT_LOOKUP => event_lookup(&mut tx, a).await,
        PROPOSE_REPLAY => propose_replay(&mut tx, a).await,
        KPIS => kpis(&mut tx, a, now).await,
        INCIDENT_SUMMARY => incident_summary(&mut tx, a, now).await,
        _ => Err(ToolError::Unknown(name.to_string())),
    };
    tx.rollback().await?;
    out
}

async fn order_status(pool: &PgPool, a: Args) -> Result<ToolOutput, ToolError> {
    let id = a
        .order_id
        .ok_or_else(|| ToolError::BadArgs("order_id is required".into()))?;
    let detail = crate::read_model::PgOps::new(pool.clone())
        .order_detail(&id)
        .await
        .map_err(|e| ToolError::Ops(e.to_string()))?;
    let Some(d) = detail else {
        return Ok(ToolOutput {
            content: json!({"order_id": id, "found": false}),
            ..Default::default()
        });
    };
    let o = &d.order;
    let skip = d.steps.len().saturating_sub(30);
    // The dead letters' payloads as the console has read them (decoded, masked).
    let previews: std::collections::HashMap<i64, (String, Option<String>)> =
        sqlx::query_as::<_, (i64, String, Option<String>)>(
            "SELECT id, left(readable, 400), readable_format FROM dead_letters
         WHERE order_id = $1 AND readable IS NOT NULL LIMIT 500",
        )
        .bind(&o.order_id)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|(id, text, format)| (id, (text, format)))
        .collect();
    let content = json!({
        "found": true,
        "order_id": o.order_id,
        "status": o.status,
        "customer_id": o.customer_id,
        "total": o.total_display(),
        "failure_reason": o.failure_reason,
        "current_step": d.current_step,
        "step_status": d.step_status,
        "updated_at": ts(o.updated_at),
        "saga_steps": d.steps.iter().skip(skip).map(|s| json!({
            "step": s.step, "action": s.action, "status": s.status, "error": s.error,
            "attempt": s.attempt, "at": ts(s.at)
        })).collect::<Vec<_>>(),
        "event_count": d.events.len(),
        "dead_letters": d.dead_letters.iter().map(|dl| json!({
            "id": dl.id, "original_topic": dl.original_topic, "error": dl.exception_message,
            "status": dl.status, "failed_at": ts(dl.failed_at),
            "payload_preview": previews.get(&dl.id).map(|p| &p.0),
            "payload_format": previews.get(&dl.id).and_then(|p| p.1.as_deref()),
        })).collect::<Vec<_>>(),
        "link": order_href(&o.order_id),
    });
    Ok(ToolOutput {
        content,
        citations: vec![order_cite(&o.order_id)],
        proposals: vec![],
    })
}

type Tx = Transaction<'static, Postgres>;

async fn search_orders(tx: &mut Tx, a: Args) -> Result<ToolOutput, ToolError> {
    let limit = a.limit.unwrap_or(10).clamp(1, 50);
    type Row = (
        String,
        String,
        Option<String>,
        Option<String>,
        DateTime<Utc>,
    );
    // "compensating" is not a stored status: an unfinished order whose saga is undoing a
    // step (`current_step` `<step>:compensate`).
    let compensating = a.status.as_deref() == Some("compensating");
    let status = a.status.clone().filter(|_| !compensating);
    // A customer id is exact (`CUST-0042`); anything else (a name) matches a part of it.
    let (customer_exact, customer_part) = match a.customer_id.as_deref() {
        Some(c) if c.to_uppercase().starts_with("CUST-") => (Some(c.to_uppercase()), None),
        Some(c) => (None, Some(like_escape(c))),
        None => (None, None),
    };
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT order_id, status, customer_id, failure_reason, updated_at FROM orders
             WHERE ($1::text IS NULL OR status = $1)
               AND ($2::text IS NULL OR customer_id = $2)
               AND ($3::text IS NULL OR order_id ILIKE '%' || $3 || '%'
                    OR failure_reason ILIKE '%' || $3 || '%')
               AND ($4::timestamptz IS NULL OR updated_at >= $4)
               AND ($5::timestamptz IS NULL OR updated_at < $5)
               AND ($7::text IS NULL OR customer_id ILIKE '%' || $7 || '%')
               AND ($8::text IS NULL OR order_id IN (
                    SELECT aggregate_id FROM events WHERE correlation_id = $8
                    UNION ALL SELECT order_id FROM orders WHERE order_id = $8))
               AND (NOT $9 OR (current_step LIKE '%:compensate'
                    AND status NOT IN ('completed', 'failed', 'cancelled')))
             ORDER BY updated_at DESC, order_id DESC LIMIT $6",
    )
    .bind(&status)
    .bind(&customer_exact)
    .bind(a.text.as_deref().map(like_escape))
    .bind(a.since)
    .bind(a.until)
    .bind(limit)
    .bind(&customer_part)
    .bind(&a.correlation_id)
    .bind(compensating)
    .fetch_all(&mut **tx)
    .await?;
    let citations = rows.iter().map(|r| order_cite(&r.0)).collect();
    let orders: Vec<Value> = rows
        .into_iter()
        .map(|(id, status, customer, reason, at)| {
            json!({"order_id": id, "status": status, "customer_id": customer,
                   "failure_reason": reason, "updated_at": ts(at)})
        })
        .collect();
    Ok(ToolOutput {
        content: json!({"count": orders.len(), "limit": limit, "orders": orders}),
        citations,
        proposals: vec![],
    })
}

async fn recent_failures(
    tx: &mut Tx,
    a: Args,
    now: DateTime<Utc>,
) -> Result<ToolOutput, ToolError> {
    let since = a.since.unwrap_or(now - chrono::Duration::hours(1));
    let orders: Vec<(String, String, Option<String>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT order_id, status, failure_reason, updated_at FROM orders
         WHERE status IN ('failed', 'cancelled') AND updated_at >= $1
           AND ($2::timestamptz IS NULL OR updated_at < $2)
           AND ($3::text IS NULL OR failure_reason ILIKE '%' || $3 || '%'
                OR split_part(current_step, ':', 1) = $3)
         ORDER BY updated_at DESC LIMIT 20",
    )
    .bind(since)
    .bind(a.until)
    .bind(&a.service)
    .fetch_all(&mut **tx)
    .await?;
    let steps: Vec<(String, String, i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT step, COALESCE(error, '(no message)'), count(*), max(at) FROM saga_steps
         WHERE status = 'failed' AND at >= $1 AND ($2::timestamptz IS NULL OR at < $2)
           AND ($3::text IS NULL OR step = $3)
         GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 20",
    )
    .bind(since)
    .bind(a.until)
    .bind(&a.service)
    .fetch_all(&mut **tx)
    .await?;
    let mut citations: Vec<Citation> = orders.iter().take(10).map(|o| order_cite(&o.0)).collect();
    // For one service, what else happened to it in the window: its breakers' transitions
    // and the dead letters its failures left (an outage that dead-letters instead of
    // failing sagas shows only there).
    let (mut transitions, mut dead) = (Vec::new(), Vec::new());
    if let Some(service) = &a.service {
        let t: Vec<(String, String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT breaker, from_state, to_state, at FROM breaker_transitions
             WHERE service = $1 AND at >= $2 AND ($3::timestamptz IS NULL OR at < $3)
             ORDER BY at LIMIT 20",
        )
        .bind(service)
        .bind(since)
        .bind(a.until)
        .fetch_all(&mut **tx)
        .await?;
        transitions = t
            .iter()
            .map(|(b, f, to, at)| json!({"breaker": b, "from": f, "to": to, "at": ts(*at)}))
            .collect();
        let d: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT original_topic, COALESCE(exception_message, '(no message)'), count(*)::int8,
                    count(*) FILTER (WHERE status = 'pending')::int8
             FROM dead_letters
             WHERE failed_at >= $2 AND ($3::timestamptz IS NULL OR failed_at < $3)
               AND (exception_message ILIKE '%' || $1 || '%' OR original_topic LIKE $1 || '.%')
             GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 10",
        )
        .bind(like_escape(service))
        .bind(since)
        .bind(a.until)
        .fetch_all(&mut **tx)
        .await?;
        dead = d
            .iter()
            .map(|(topic, error, n, pending)| {
                json!({"original_topic": topic, "error": error, "count": n, "pending": pending})
            })
            .collect();
        if !transitions.is_empty() {
            citations.push(Citation {
                label: format!("{service} breakers"),
                href: "/breakers".into(),
            });
        }
        if !d.is_empty() {
            citations.push(Citation {
                label: format!("{service} dead letters"),
                href: format!(
                    "/dead-letters?error={}",
                    switchyard_app::ops::percent_encode(service)
                ),
            });
        }
    }
    Ok(ToolOutput {
        content: json!({
            "since": ts(since),
            "service": a.service,
            "failed_orders": orders.iter().map(|(id, status, reason, at)| json!({
                "order_id": id, "status": status, "failure_reason": reason, "at": ts(*at)
            })).collect::<Vec<_>>(),
            "failed_steps": steps.iter().map(|(step, error, n, last)| json!({
                "step": step, "error": error, "count": n, "last_at": ts(*last)
            })).collect::<Vec<_>>(),
            "breaker_transitions": transitions,
            "dead_letters": dead,
        }),
        citations,
        proposals: vec![],
    })
}

/// The dead-letter filter of the tool arguments (topic exact; status as given).
fn dl_filter(a: &Args) -> proposal::Scope {
    proposal::Scope {
        topic: a.topic.clone(),
        service: a.service.clone(),
        error: a.error.clone(),
        status: a.status.clone(),
        key: a.key.clone(),
        since: a.since,
        until: a.until,
    }
}

async fn dlq_summary(tx: &mut Tx, a: Args) -> Result<ToolOutput, ToolError> {
    let scope = dl_filter(&a);
    let groups = proposal::count_groups(tx, &scope).await?;
    let total: i64 = groups.iter().map(|g| g.count).sum();
    let mut by_topic = std::collections::BTreeMap::<String, i64>::new();
    for g in &groups {
        *by_topic.entry(g.topic.clone()).or_default() += g.count;
    }
    Ok(ToolOutput {
        content: json!({
            "filter": scope.to_json(),
            "total": total,
            "by_topic": by_topic,
            "groups": groups.iter().take(30).map(|g| json!({
                "topic": g.topic, "error": g.error, "status": g.status, "count": g.count
            })).collect::<Vec<_>>(),
        }),
        ..Default::default()
    })
}

async fn breaker_states(tx: &mut Tx, a: Args) -> Result<ToolOutput, ToolError> {
    let wanted_state = a.state.as_deref().map(str::to_lowercase);
    let unwanted_state = a.not_state.as_deref().map(str::to_lowercase);
    let rows: Vec<_> = crate::read_model::console::breaker_views(&mut **tx)
        .await?
        .into_iter()
        .filter(|b| {
            a.service
                .as_deref()
                .is_none_or(|s| b.service == s || b.breaker == s)
        })
        .filter(|b| {
            wanted_state
                .as_deref()
                .is_none_or(|w| b.state.as_str().to_lowercase() == w)
        })
        .filter(|b| {
            unwanted_state
                .as_deref()
                .is_none_or(|w| b.state.as_str().to_lowercase() != w)
        })
        .collect();
    Ok(ToolOutput {
        citations: if rows.is_empty() {
            vec![]
        } else {
            vec![breakers_cite()]
        },
        content: json!({"breakers": rows.iter().map(|b| json!({
            "service": b.service, "breaker": b.breaker,
            "state": b.state.as_str().to_lowercase(), "since": ts(b.state_at),
            "failure_rate": b.failure_rate, "calls": b.calls, "not_permitted": b.not_permitted
        })).collect::<Vec<_>>()}),
        ..Default::default()
    })
}

async fn breaker_history(
    tx: &mut Tx,
    a: Args,
    now: DateTime<Utc>,
) -> Result<ToolOutput, ToolError> {
    let since = a.since.unwrap_or(now - chrono::Duration::hours(1));
    let until = a.until.unwrap_or(DateTime::<Utc>::MAX_UTC);
    let mut rows = crate::read_model::console::transitions(&mut **tx, since, until).await?;
    rows.retain(|t| {
        a.service
            .as_deref()
            .is_none_or(|s| t.service == s || t.breaker == s)
    });
    rows.reverse();
    rows.truncate(50);
    Ok(ToolOutput {
        content: json!({"since": ts(since), "transitions": rows.iter().map(|r| json!({
            "service": r.service, "breaker": r.breaker, "from": r.from_state.as_str().to_lowercase(),
            "to": r.to_state.as_str().to_lowercase(), "at": ts(r.at)
        })).collect::<Vec<_>>()}),
        ..Default::default()
    })
}

async fn event_lookup(tx: &mut Tx, a: Args) -> Result<ToolOutput, ToolError> {
    let limit = a.limit.unwrap_or(10).clamp(1, 50);
    let (uuid, numeric) = match a.event_id.as_deref() {
        None => (None, None),
        Some(s) => match (s.parse::<uuid::Uuid>(), s.parse::<i64>()) {
            (Ok(u), _) => (Some(u), None),
            (_, Ok(n)) => (None, Some(n)),
            _ => {
                return Err(ToolError::BadArgs(format!(
                    "event_id {s:?} is neither a UUID nor a number"
                )))
            }
        },
    };
    type Row = (
        i64,
        Option<uuid::Uuid>,
        String,
        String,
        String,
        i32,
        i64,
        DateTime<Utc>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, event_id, event_type, aggregate_id, topic, kafka_partition, kafka_offset,
                occurred_at, source, left(payload::text, 400)
         FROM events
         WHERE ($1::uuid IS NULL OR event_id = $1) AND ($2::int8 IS NULL OR id = $2)
           AND ($3::text IS NULL OR aggregate_id = $3) AND ($4::text IS NULL OR event_type = $4)
           AND ($5::timestamptz IS NULL OR occurred_at >= $5)
           AND ($6::timestamptz IS NULL OR occurred_at < $6)
           AND ($8::text IS NULL OR correlation_id = $8)
         ORDER BY occurred_at DESC, id DESC LIMIT $7",
    )
    .bind(uuid)
    .bind(numeric)
    .bind(&a.order_id)
    .bind(&a.event_type)
    .bind(a.since)
    .bind(a.until)
    .bind(limit)
    .bind(&a.correlation_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut citations: Vec<Citation> = Vec::new();
    for r in &rows {
        let c = order_cite(&r.3);
        if !citations.contains(&c) && citations.len() < 10 {
            citations.push(c);
        }
    }
    Ok(ToolOutput {
        content: json!({"count": rows.len(), "events": rows.iter().map(|r| json!({
            "id": r.0, "event_id": r.1, "event_type": r.2, "order_id": r.3,
            "position": format!("{}/{}@{}", r.4, r.5, r.6), "occurred_at": ts(r.7),
            "source": r.8, "payload_preview": r.9
        })).collect::<Vec<_>>()}),
        citations,
        proposals: vec![],
    })
}

async fn propose_replay(tx: &mut Tx, a: Args) -> Result<ToolOutput, ToolError> {
    let mut scope = dl_filter(&a);
    if scope.status.is_none() {
        scope.status = Some("pending".into());
    }
    let proposals = proposal::dry_run(tx, &scope).await?;
    let total: i64 = proposals.iter().map(|p| p.total).sum();
    Ok(ToolOutput {
        content: json!({
            "executed": false,
            "note": "A proposal only: nothing was replayed. An operator may confirm it in the console.",
            "total": total,
            "proposals": proposals.iter().map(|p| json!({
                "filter": p.filter, "total": p.total,
                "groups": p.groups.iter().map(|g| json!({"topic": g.topic, "error": g.error, "count": g.count})).collect::<Vec<_>>()
            })).collect::<Vec<_>>(),
        }),
        citations: vec![],
        proposals,
    })
}

fn breakers_cite() -> Citation {
    Citation {
        label: "breakers".into(),
        href: "/breakers".into(),
    }
}

/// The window a tool reads: the arguments' `since`/`until`, by default the last hour.
fn window_of(a: &Args, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let until = a.until.unwrap_or(now);
    let since = a.since.unwrap_or(until - chrono::Duration::hours(1));
    (since, until.max(since))
}

fn kpis_json(k: &switchyard_app::console::Kpis) -> Value {
    json!({
        "orders_per_min": (k.orders_per_min * 10.0).round() / 10.0,
        "completion_rate": k.completion_rate.map(|r| (r * 1000.0).round() / 10.0),
        "saga_p50_ms": k.saga_p50_ms.map(f64::round),
        "saga_p95_ms": k.saga_p95_ms.map(f64::round),
        "sagas_measured": k.sagas_measured,
        "dlq_inflow": k.dlq_inflow,
        "dlq_depth": k.dlq_depth,
        "open_breakers": k.open_breakers,
        "breakers": k.breakers,
    })
}

/// The overview's KPIs over the window, by the overview's own queries, and those of the
/// window of the same length before it (what "normal" is compared with).
async fn kpis(tx: &mut Tx, a: Args, now: DateTime<Utc>) -> Result<ToolOutput, ToolError> {
    use crate::read_model::console;
    let (since, until) = window_of(&a, now);
    let len = until - since;
    let minutes = (len.num_seconds() as f64 / 60.0).max(1.0);
    let bucket = len.num_seconds().max(60);
    let mut out = Vec::new();
    for (from, to) in [(since, until), (since - len, since)] {
        let throughput = console::throughput(&mut **tx, from, to, bucket).await?;
        let samples = console::durations(&mut **tx, from, to).await?;
        let inflow = console::dlq_inflow(&mut **tx, from, to, bucket).await?;
        let counts = console::counts(&mut **tx).await?;
        out.push(console::kpis_of(
            &throughput,
            &samples,
            &inflow,
            counts,
            minutes,
        ));
    }
    let (k, before) = (&out[0], &out[1]);
    let mut citations = vec![Citation {
        label: "overview".into(),
        href: "/".into(),
    }];
    if k.open_breakers > 0 {
        citations.push(breakers_cite());
    }
    Ok(ToolOutput {
        content: json!({
            "since": ts(since),
            "until": ts(until),
            "minutes": minutes.round() as i64,
            "kpis": kpis_json(k),
            "previous": kpis_json(before),
        }),
        citations,
        proposals: vec![],
    })
}

/// Within one outage, a close this short before the next opening is a flap, not an end.
const SETTLE: chrono::Duration = chrono::Duration::seconds(15);

/// One outage of one breaker: from leaving CLOSED until CLOSED again (for longer than
/// [`SETTLE`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Outage {
    pub service: String,
    pub breaker: String,
    pub start: DateTime<Utc>,
    /// `None`: still going at the end of the window.
    pub end: Option<DateTime<Utc>>,
    /// Whether it had started before the window (the breaker was not closed at its start).
    pub started_before: bool,
    /// Times the breaker opened again within the outage (after a half-open probe or a
    /// short close): the flapping.
    pub reopened: i64,
    pub transitions: i64,
}

/// Groups transitions (oldest first) into outages per breaker. `before` is each breaker's
/// state at `since` (its last transition before the window), closed when unknown.
pub fn outages(
    transitions: &[(String, String, String, String, DateTime<Utc>)],
    before: &std::collections::HashMap<(String, String), String>,
    since: DateTime<Utc>,
) -> Vec<Outage> {
    let closed = |s: &str| s.eq_ignore_ascii_case("closed");
    let mut open: std::collections::BTreeMap<(String, String), Outage> = Default::default();
    let mut done: Vec<Outage> = Vec::new();
    for ((service, breaker), state) in before {
        if !closed(state) {
            open.insert(
                (service.clone(), breaker.clone()),
                Outage {
                    service: service.clone(),
                    breaker: breaker.clone(),
                    start: since,
                    end: None,
                    started_before: true,
                    reopened: 0,
                    transitions: 0,
                },
            );
        }
    }
    for (service, breaker, _from, to, at) in transitions {
        let key = (service.clone(), breaker.clone());
        if closed(to) {
            if let Some(o) = open.get_mut(&key) {
                o.transitions += 1;
                o.end = Some(*at);
            }
            continue;
        }
        match open.get_mut(&key) {
            Some(o) if o.end.is_none_or(|e| *at - e <= SETTLE) => {
                // Still the same outage: it opened again after a failed probe or a close
                // too short to count (a half-open probe alone is not a re-opening).
                if o.end.is_some() || to.eq_ignore_ascii_case("open") {
                    o.reopened += 1;
                }
                o.end = None;
                o.transitions += 1;
            }
            _ => {
                if let Some(o) = open.remove(&key) {
                    done.push(o);
                }
                open.insert(
                    key,
                    Outage {
                        service: service.clone(),
                        breaker: breaker.clone(),
                        start: *at,
                        end: None,
                        started_before: false,
                        reopened: 0,
                        transitions: 1,
                    },
                );
            }
        }
    }
    done.extend(open.into_values());
    done.sort_by(|a, b| a.start.cmp(&b.start).then(a.breaker.cmp(&b.breaker)));
    done
}

/// What happened to a service (or every service) in the window: its breakers' outages,
/// the orders that failed and the dead letters still waiting.
async fn incident_summary(
    tx: &mut Tx,
    a: Args,
    now: DateTime<Utc>,
) -> Result<ToolOutput, ToolError> {
    let (since, until) = window_of(&a, now);
    let service = a.service.as_deref().map(|s| {
        // A breaker's name stands for its service.
        switchyard_contract::BREAKERS
            .iter()
            .find(|(_, b)| *b == s)
            .map_or(s.to_string(), |(svc, _)| svc.to_string())
    });
    let rows = crate::read_model::console::transitions(&mut **tx, since, until).await?;
    let rows: Vec<(String, String, String, String, DateTime<Utc>)> = rows
        .into_iter()
        .filter(|t| service.as_deref().is_none_or(|s| t.service == s))
        .map(|t| {
            (
                t.service,
                t.breaker,
                t.from_state.as_str().to_lowercase(),
                t.to_state.as_str().to_lowercase(),
                t.at,
            )
        })
        .collect();
    let before: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT DISTINCT ON (service, breaker) service, breaker, to_state
         FROM breaker_transitions WHERE at < $1 AND ($2::text IS NULL OR service = $2)
         ORDER BY service, breaker, at DESC, id DESC",
    )
    .bind(since)
    .bind(&service)
    .fetch_all(&mut **tx)
    .await?;
    let before = before.into_iter().map(|(s, b, st)| ((s, b), st)).collect();
    let found = outages(&rows, &before, since);
    let failed: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT order_id, status, failure_reason FROM orders
         WHERE status IN ('failed', 'cancelled') AND updated_at >= $1 AND updated_at < $2
           AND ($3::text IS NULL OR failure_reason ILIKE '%' || $3 || '%'
                OR split_part(current_step, ':', 1) = $3)
         ORDER BY updated_at DESC LIMIT 500",
    )
    .bind(since)
    .bind(until)
    .bind(service.as_deref().map(like_escape))
    .fetch_all(&mut **tx)
    .await?;
    let waiting: Vec<(String, i64)> = sqlx::query_as(
        "SELECT original_topic, count(*)::int8 FROM dead_letters
         WHERE status = 'pending' AND failed_at >= $1 AND failed_at < $2
           AND ($3::text IS NULL OR original_topic LIKE $3 || '.%'
                OR exception_message ILIKE '%' || $3 || '%')
         GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20",
    )
    .bind(since)
    .bind(until)
    .bind(service.as_deref().map(like_escape))
    .fetch_all(&mut **tx)
    .await?;
    let mut reasons: Vec<(String, i64)> = Vec::new();
    for (_, _, r) in &failed {
        let r = r.clone().unwrap_or_else(|| "(no reason)".into());
        match reasons.iter_mut().find(|x| x.0 == r) {
            Some(x) => x.1 += 1,
            None => reasons.push((r, 1)),
        }
    }
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut citations = Vec::new();
    if !found.is_empty() {
        citations.push(breakers_cite());
    }
    citations.extend(failed.iter().take(5).map(|o| order_cite(&o.0)));
    if !waiting.is_empty() {
        let href = if waiting.len() == 1 {
            format!(
                "/dead-letters?status=pending&topic={}",
                switchyard_app::ops::percent_encode(&waiting[0].0)
            )
        } else {
            "/dead-letters?status=pending".to_string()
        };
        citations.push(Citation {
            label: "dead letters waiting".into(),
            href,
        });
    }
    Ok(ToolOutput {
        content: json!({
            "service": service,
            "since": ts(since),
            "until": ts(until),
            "outages": found.iter().map(|o| json!({
                "service": o.service, "breaker": o.breaker,
                "start": ts(o.start), "end": o.end.map(ts),
                "started_before": o.started_before,
                "duration_s": (o.end.unwrap_or(until) - o.start).num_seconds(),
                "reopened": o.reopened, "transitions": o.transitions,
            })).collect::<Vec<_>>(),
            "transitions": rows.len(),
            "failed_orders": failed.len(),
            "failed_order_ids": failed.iter().take(10).map(|o| &o.0).collect::<Vec<_>>(),
            "failure_reasons": reasons.iter().take(5).map(|(r, n)| json!({"reason": r, "count": n})).collect::<Vec<_>>(),
            "dead_letters_waiting": waiting.iter().map(|x| x.1).sum::<i64>(),
            "dead_letters_by_topic": waiting.iter().map(|(t, n)| json!({"topic": t, "count": n})).collect::<Vec<_>>(),
        }),
        citations,
        proposals: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        format!("2026-11-25T{s}Z").parse().unwrap()
    }

    fn t(from: &str, to: &str, when: &str) -> (String, String, String, String, DateTime<Utc>) {
        (
            "payment".into(),
            "payment-gateway".into(),
            from.into(),
            to.into(),
            at(when),
        )
    }

    #[test]
    fn transitions_group_into_outages_with_their_flaps() {
        let rows = vec![
            t("closed", "open", "10:37:30"),
            t("open", "half_open", "10:37:40"),
            t("half_open", "open", "10:37:41"),
            t("open", "half_open", "10:37:51"),
            t("half_open", "closed", "10:37:55"),
            // Closed for 3 s only: the same outage, flapping.
            t("closed", "open", "10:37:58"),
            t("open", "half_open", "10:38:20"),
            t("half_open", "closed", "10:38:29"),
            // Closed for 17 s: a second outage.
            t("closed", "open", "10:38:46"),
            t("open", "half_open", "10:39:30"),
            t("half_open", "closed", "10:39:45"),
        ];
        let o = outages(&rows, &Default::default(), at("10:30:00"));
        assert_eq!(o.len(), 2, "{o:?}");
        assert_eq!(
            (o[0].start, o[0].end),
            (at("10:37:30"), Some(at("10:38:29")))
        );
        assert_eq!(o[0].reopened, 2);
        assert_eq!(o[0].transitions, 8);
        assert_eq!(
            (o[1].start, o[1].end),
            (at("10:38:46"), Some(at("10:39:45")))
        );
        assert_eq!(o[1].reopened, 0);
    }

    #[test]
    fn an_outage_open_before_the_window_and_one_still_going() {
        let before = [(
            ("payment".to_string(), "payment-gateway".to_string()),
            "OPEN".to_string(),
        )]
        .into_iter()
        .collect();
        let rows = vec![
            t("open", "closed", "10:31:00"),
            t("closed", "open", "10:50:00"),
        ];
        let o = outages(&rows, &before, at("10:30:00"));
        assert_eq!(o.len(), 2);
        assert!(o[0].started_before);
        assert_eq!(o[0].end, Some(at("10:31:00")));
        assert_eq!((o[1].start, o[1].end), (at("10:50:00"), None));
    }

    #[test]
    fn every_tool_is_offered_to_hosted_models() {
        let names: Vec<&str> = specs().iter().map(|s| s.name).collect();
        assert_eq!(names, ALL);
    }
}
