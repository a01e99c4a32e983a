//! The ops contract's data: what the pages show, shared by both compile targets.

use crate::states::{DeadLetterStatus, OrderStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One row of the orders list, as projected from the order's events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRow {
    pub order_id: String,
    pub customer_id: Option<String>,
    pub status: OrderStatus,
    pub total_cents: Option<i64>,
    pub currency: Option<String>,
    pub item_count: Option<i32>,
    pub failure_reason: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Where the saga is: "payment:execute started", if any step was seen.
    #[serde(default)]
    pub step: Option<String>,
}

impl OrderRow {
    /// "12.50 EUR", or an em dash when the total is not known yet.
    pub fn total_display(&self) -> String {
        money(self.total_cents, self.currency.as_deref())
    }
}

/// "12.50 EUR" from cents, or an em dash when unknown.
pub fn money(cents: Option<i64>, currency: Option<&str>) -> String {
    match cents {
        Some(c) => format!(
            "{}{}.{:02} {}",
            if c < 0 { "-" } else { "" },
            c.unsigned_abs() / 100,
            c.unsigned_abs() % 100,
            currency.unwrap_or("")
        )
        .trim_end()
        .to_string(),
        None => "—".to_string(),
    }
}

/// One step of an order's saga timeline (execute and compensate on one timeline).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SagaStepView {
    pub step: String,
    pub action: String,
    pub status: String,
    pub error: Option<String>,
    pub attempt: i32,
    pub at: DateTime<Utc>,
}

/// One stored event of an order, with its source position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    pub id: i64,
    pub event_type: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub version: Option<i64>,
    pub occurred_at: DateTime<Utc>,
    pub source: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    /// The envelope's id: the same id at two positions is one event delivered twice
    /// (a producer's retry, a replay), shown as such.
    #[serde(default)]
    pub event_id: Option<String>,
}

/// A dead letter, as listed next to the order it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterView {
    pub id: i64,
    pub original_topic: String,
    pub dialect: String,
    pub exception_message: Option<String>,
    pub status: DeadLetterStatus,
    pub failed_at: DateTime<Utc>,
}

/// Everything the order detail page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDetail {
    pub order: OrderRow,
    pub current_step: Option<String>,
    pub step_status: Option<String>,
    pub steps: Vec<SagaStepView>,
    pub events: Vec<EventView>,
    pub dead_letters: Vec<DeadLetterView>,
    /// Set when retention has dropped events of this order: events ingested before this
    /// time are gone, so the timeline and history shown start later than the order did.
    #[serde(default)]
    pub history_aged_out_before: Option<DateTime<Utc>>,
    /// What an operator may do to the saga, and the commands sent to it so far.
    #[serde(default)]
    pub actions: crate::saga::SagaActionsView,
}

/// A quarantined record: where it was, why it was refused, and a safe preview.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantinedView {
    pub id: i64,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub reason: String,
    pub size: i64,
    /// The first bytes as text (invalid UTF-8 replaced); rendered escaped, never as HTML.
    pub preview: String,
    pub quarantined_at: DateTime<Utc>,
}

/// What arrives on the live push stream (`/api/live`), one JSON object per SSE message:
/// the payload's fields plus `"message"` naming the variant (not `kind`: a replay job has
/// a field of that name, and the browser refused every such message as a duplicate field).
/// The SSE event name is [`LiveMessage::event_name`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "message", rename_all = "snake_case")]
pub enum LiveMessage {
    /// An order was created or changed.
    Order(OrderRow),
    /// A replay job started, progressed or ended.
    ReplayJob(crate::dlq::ReplayJobView),
}

impl LiveMessage {
    pub fn event_name(&self) -> &'static str {
        match self {
            LiveMessage::Order(_) => "order",
            LiveMessage::ReplayJob(_) => "replay_job",
        }
    }
}

/// A page's load as an island's props: the value (or an empty one) and the error text.
pub fn loaded_or_error<T: Default>(
    r: Result<T, leptos::prelude::ServerFnError>,
) -> (T, Option<String>) {
    match r {
        Ok(v) => (v, None),
        Err(e) => (T::default(), Some(e.to_string())),
    }
}

/// The link to an order's page, its id percent-encoded for a path segment.
pub fn order_href(order_id: &str) -> String {
    format!("/orders/{}", percent_encode(order_id))
}

/// Percent-encodes everything but RFC 3986's unreserved characters: safe in a path
/// segment and in a query key or value.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Which dead letters an operator means: the DLQ page's filter, the scope of a replay job
/// and of an assistant replay proposal. Every field narrows; `None` (or empty) means any.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterFilter {
    /// Original topic (exact), e.g. `payment.requested`.
    pub topic: Option<String>,
    /// Case-insensitive substring of the exception message or class.
    pub error: Option<String>,
    /// pending | replaying | replayed | failed_again | parked | discarded
    pub status: Option<String>,
    /// Record key (exact), usually the order id.
    pub key: Option<String>,
    /// Failed at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Failed before this instant.
    pub until: Option<DateTime<Utc>>,
    /// The dead-letter topic it sits on (exact), e.g. `orders.DLT`. (Absent in filters
    /// stored before it existed.)
    #[serde(default)]
    pub dlq_topic: Option<String>,
    /// Case-insensitive substring of the payload as the page shows it (decoded, masked).
    #[serde(default)]
    pub payload: Option<String>,
}

/// HTML-escapes text for element content and quoted attribute values (for markup the
/// server writes by hand: the login page, chart SVG).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Set once by the server: logs an error whose text must not reach the browser (a
/// database's, a broker's, the file system's) and returns the reference the browser gets
/// instead; `None` for an error meant for the user (a refusal, a validation message).
#[cfg(feature = "ssr")]
pub static HIDE_INTERNAL: std::sync::OnceLock<
    fn(&(dyn std::error::Error + 'static)) -> Option<String>,
> = std::sync::OnceLock::new();

/// Maps a read-model error to a server-function error prefixed with what failed; an
/// internal error's text stays in the server's log ([`HIDE_INTERNAL`]).
#[cfg(feature = "ssr")]
pub fn failed(what: &str) -> impl FnOnce(OpsError) -> leptos::prelude::ServerFnError + '_ {
    move |e| {
        let hidden = HIDE_INTERNAL.get().and_then(|hide| hide(e.as_ref()));
        leptos::prelude::ServerFnError::new(match hidden {
            Some(reference) => format!(
                "{what}: an internal error (reference {reference}); the server's log has the detail"
            ),
            None => format!("{what}: {e}"),
        })
    }
}

/// The upper bound of one page of orders.
pub const MAX_PAGE: i64 = 500;

/// Errors from the read model, boxed so the UI does not depend on the server's error types.
pub type OpsError = Box<dyn std::error::Error + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    fn row(total: Option<i64>) -> OrderRow {
        OrderRow {
            order_id: "ORD-1".into(),
            customer_id: None,
            status: OrderStatus::Created,
            total_cents: total,
            currency: Some("EUR".into()),
            item_count: None,
            failure_reason: None,
            created_at: None,
            updated_at: DateTime::<Utc>::from_timestamp(0, 0).unwrap(),
            step: None,
        }
    }

    #[test]
    fn totals_render_in_major_units() {
        assert_eq!(row(Some(1250)).total_display(), "12.50 EUR");
        assert_eq!(row(Some(5)).total_display(), "0.05 EUR");
        assert_eq!(row(Some(-199)).total_display(), "-1.99 EUR");
        assert_eq!(row(None).total_display(), "—");
    }

    #[test]
    fn order_links_are_escaped() {
        assert_eq!(order_href("ORD-1"), "/orders/ORD-1");
        assert_eq!(order_href("a/b?c <x>"), "/orders/a%2Fb%3Fc%20%3Cx%3E");
    }

    #[test]
    fn live_messages_are_tagged_json() {
        let m = LiveMessage::Order(row(Some(1)));
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.starts_with(r#"{"message":"order","#), "{json}");
        assert_eq!(serde_json::from_str::<LiveMessage>(&json).unwrap(), m);
        assert_eq!(m.event_name(), "order");
    }
}
