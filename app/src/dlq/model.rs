//! The data the dead-letter pages show, shared by both compile targets. Every text field
//! is rendered as text (escaped by Leptos), never as HTML: payloads and headers come from
//! producers nobody vetted.

pub use crate::ops::percent_encode;
use crate::ops::DeadLetterFilter;
use crate::states::{DeadLetterStatus, JobStatus, OrderStatus, ReplayStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Most dead letters on one page of the list.
pub const MAX_LIST: i64 = 200;

/// One row of the dead-letter list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterItem {
    pub id: i64,
    /// The dead-letter topic it sits on (`payment.completed.dlq`).
    pub dlq_topic: String,
    /// Where a replay sends it.
    pub original_topic: String,
    pub dialect: String,
    /// The record key as text (invalid UTF-8 replaced).
    pub key: Option<String>,
    pub order_id: Option<String>,
    /// The exception message, else its type.
    pub error: Option<String>,
    pub status: DeadLetterStatus,
    pub failed_at: DateTime<Utc>,
    pub replay_count: i32,
    pub parse_note: Option<String>,
}

/// One page of the list and the cursor of the next one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterPage {
    pub rows: Vec<DeadLetterItem>,
    pub next: Option<String>,
}

/// A count of dead letters sharing a topic or an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterGroup {
    pub label: String,
    pub count: i64,
    pub pending: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterGroups {
    /// By original topic (where a replay sends them).
    pub by_topic: Vec<DeadLetterGroup>,
    /// By the dead-letter topic they sit on.
    pub by_dlq_topic: Vec<DeadLetterGroup>,
    pub by_error: Vec<DeadLetterGroup>,
}

/// A payload, decoded for reading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum Payload {
    /// Valid JSON, pretty-printed.
    Json(String),
    /// Valid UTF-8 without control characters.
    Text(String),
    /// Anything else: a hex dump (offset, bytes, ASCII).
    Hex(String),
    /// No value (a tombstone).
    Empty,
}

impl Payload {
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Json(_) => "json",
            Payload::Text(_) => "text",
            Payload::Hex(_) => "hex",
            Payload::Empty => "empty",
        }
    }
    pub fn text(&self) -> &str {
        match self {
            Payload::Json(s) | Payload::Text(s) | Payload::Hex(s) => s,
            Payload::Empty => "",
        }
    }
}

/// One header of a dead letter, decoded according to its dialect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderView {
    pub key: String,
    /// Text, a decoded number (binary positions of Spring Kafka), or hex.
    pub value: String,
    /// What it means, when a dialect defines it ("original topic (spring-kafka)").
    pub meaning: Option<String>,
    /// Whether a replay carries it under the default header policy.
    pub carried: bool,
}

/// What happened after a replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayOutcome {
    /// "order completed", "failed again", "consumed", "sent, awaiting outcome", …
    pub label: String,
    /// The new dead letter, when the message failed again and came back.
    pub came_back_as: Option<i64>,
    /// The order it belongs to, with its current status.
    pub order_id: Option<String>,
    pub order_status: Option<OrderStatus>,
}

/// One replay of a dead letter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayView {
    pub replay_id: String,
    pub job_id: Option<String>,
    pub requested_by: String,
    pub status: ReplayStatus,
    pub target_topic: String,
    pub target_partition: Option<i32>,
    pub target_offset: Option<i64>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub outcome: ReplayOutcome,
    /// For an edited copy: what the operator changed (values masked).
    #[serde(default)]
    pub changes: Vec<String>,
}

/// Everything the dead-letter detail page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterDetail {
    pub item: DeadLetterItem,
    pub partition: i32,
    pub offset: i64,
    pub original_partition: Option<i32>,
    pub original_offset: Option<i64>,
    /// How the original topic was found when no header names it (from the topic's name,
    /// by which convention; or unknown). `None`: a header names it.
    pub origin_note: Option<String>,
    pub exception_type: Option<String>,
    pub exception_message: Option<String>,
    pub attempts: Option<i32>,
    pub payload: Payload,
    /// How a framed payload was decoded ("avro, schema 7"), when it was.
    pub payload_format: Option<String>,
    /// Why the payload is shown raw when it looks decodable (a schema the registry does
    /// not know, a registry that is down, no registry configured).
    pub payload_note: Option<String>,
    /// The value a replay sends, when it differs from the stored one (the seed dialect
    /// wraps the original event).
    pub replay_payload: Option<Payload>,
    pub headers: Vec<HeaderView>,
    pub replays: Vec<ReplayView>,
    /// The dead letter this one was replayed from, when it failed again.
    pub replayed_from: Option<i64>,
    pub discarded: Option<Discarded>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discarded {
    pub by: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// Which dead letters a replay or a dry run covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReplayScope {
    /// These dead letters (one, or the selected ones).
    Ids { ids: Vec<i64> },
    /// Everything matching the filter when the job starts.
    Filter { filter: DeadLetterFilter },
}

/// A count under a label (target topic, error, status).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelCount {
    pub label: String,
    pub count: i64,
}

/// What a replay would do, without doing it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DryRun {
    /// Dead letters in scope, whatever their status.
    pub matched: i64,
    /// Those a job would send (pending and not past the replay limit).
    pub to_send: i64,
    /// Pending but replayed too often already: a job parks them.
    pub to_park: i64,
    pub by_target: Vec<LabelCount>,
    pub by_error: Vec<LabelCount>,
    /// In scope but not replayable, by status.
    pub not_replayable: Vec<LabelCount>,
    /// DLQ topics in scope that already have a running job.
    pub busy_topics: Vec<String>,
    /// Header-name prefixes a job strips unless the operator says otherwise (the server's
    /// policy, shown in the job form).
    pub strip_headers: Vec<String>,
    /// Breakers a job would wait on by default (the service map's, for the target topics).
    #[serde(default)]
    pub hold_on: Vec<String>,
    /// Whether one of them would hold it now, as its progress would say.
    #[serde(default)]
    pub holding_now: Option<String>,
}

impl ReplayScope {
    /// The scope a form names: `"selected"` with its ids, or `"filter"` with its filter.
    pub fn from_form(
        scope: &str,
        ids: Option<Vec<i64>>,
        filter: Option<DeadLetterFilter>,
    ) -> Result<ReplayScope, String> {
        match scope {
            "selected" | "one" => Ok(ReplayScope::Ids {
                ids: ids.unwrap_or_default(),
            }),
            "filter" => Ok(ReplayScope::Filter {
                filter: filter.unwrap_or_default(),
            }),
            other => Err(format!("unknown scope {other:?}")),
        }
    }
}

/// A request to start a replay job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRequest {
    pub scope: ReplayScope,
    /// Messages per second; 0 = as fast as the broker takes them.
    pub throttle: u32,
    /// Header-name prefixes not carried; `None`: the server's default (stale trace
    /// context and replication bookkeeping, [`DryRun::strip_headers`]).
    pub strip_headers: Option<Vec<String>>,
    /// Breakers to wait on while they are not closed; `None`: those the contract's service
    /// map puts behind the target topics ([`DryRun::hold_on`]); empty: never wait.
    #[serde(default)]
    pub hold_on: Option<Vec<String>>,
}

/// A replay job with its live progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayJobView {
    pub id: String,
    pub kind: String,
    pub status: JobStatus,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub throttle: i32,
    pub total: i64,
    pub sent: i64,
    pub skipped: i64,
    pub parked: i64,
    pub failed: i64,
    pub cancelled: i64,
    /// Messages per second sent so far (whole messages).
    pub rate: i64,
    /// Seconds left at the current rate, while running.
    pub eta_secs: Option<i64>,
    pub dlq_topics: Vec<String>,
    pub error: Option<String>,
    pub cancelled_by: Option<String>,
    /// The breakers the job waits on while they are not closed.
    #[serde(default)]
    pub hold_on: Vec<String>,
    /// While it holds: why ("waiting: payment-gateway OPEN since 10:42:03 UTC").
    #[serde(default)]
    pub waiting: Option<String>,
}

impl ReplayJobView {
    /// Items the job is done with, whatever became of them.
    pub fn done(&self) -> i64 {
        self.sent + self.skipped + self.parked + self.failed + self.cancelled
    }
    pub fn running(&self) -> bool {
        self.status == JobStatus::Running
    }
}

/// The result of replaying one dead letter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayOneResult {
    /// "sent", "already replayed", "parked" or "not replayable: …".
    pub outcome: String,
    pub replay_id: Option<String>,
    pub position: Option<String>,
}

/// An operator's edit of a dead letter before it is resent (edit and resend): the
/// payload as edited (its shown, masked form as the start), headers to set (`name: value`
/// a line) and to remove (names), and the topic (blank: the original).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditForm {
    pub payload: String,
    pub set_headers: String,
    pub remove_headers: String,
    pub topic: String,
}

/// What an edit changes (one line each, values masked) and, once sent, the replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditOutcome {
    pub topic: String,
    pub changes: Vec<String>,
    pub sent: Option<ReplayOneResult>,
}

/// The link to a dead letter's page.
pub fn dead_letter_href(id: i64) -> String {
    format!("/dead-letters/{id}")
}

/// "1 min 5 s", "42 s": an ETA for people.
pub fn eta_display(secs: i64) -> String {
    match secs {
        s if s >= 3600 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{s} s"),
    }
}

/// Parses the comma-separated header prefixes of the job form ("traceparent, b3").
pub fn parse_prefixes(s: &str) -> Vec<String> {
    s.split([',', ' ', '\n'])
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Names typed into a form field (commas, spaces or lines between), as typed, each once:
/// the breakers a replay job waits on.
pub fn parse_names(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in s
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        if !out.iter().any(|o| o == n) {
            out.push(n.to_string());
        }
    }
    out
}

/// The filter form's fields as typed (the page's query string): kept as text so the
/// form shows back exactly what was entered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterForm {
    pub topic: String,
    pub error: String,
    pub status: String,
    pub key: String,
    /// `datetime-local` values (`2026-11-25T14:30`), read as UTC.
    pub since: String,
    pub until: String,
    pub dlq_topic: String,
    pub payload: String,
}

impl FilterForm {
    pub const FIELDS: [&'static str; 8] = [
        "topic",
        "error",
        "status",
        "key",
        "since",
        "until",
        "dlq_topic",
        "payload",
    ];

    pub fn get(&self, field: &str) -> &str {
        match field {
            "topic" => &self.topic,
            "error" => &self.error,
            "status" => &self.status,
            "key" => &self.key,
            "since" => &self.since,
            "until" => &self.until,
            "dlq_topic" => &self.dlq_topic,
            "payload" => &self.payload,
            _ => "",
        }
    }

    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> FilterForm {
        let f = |k: &str| get(k).unwrap_or_default().trim().to_string();
        FilterForm {
            topic: f("topic"),
            error: f("error"),
            status: f("status"),
            key: f("key"),
            since: f("since"),
            until: f("until"),
            dlq_topic: f("dlq_topic"),
            payload: f("payload"),
        }
    }

    pub fn to_filter(&self) -> DeadLetterFilter {
        let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
        DeadLetterFilter {
            topic: text(&self.topic),
            error: text(&self.error),
            status: text(&self.status),
            key: text(&self.key),
            since: parse_local(&self.since),
            until: parse_local(&self.until),
            dlq_topic: text(&self.dlq_topic),
            payload: text(&self.payload),
        }
    }

    /// `topic=…&error=…` of the non-empty fields, percent-encoded.
    pub fn query(&self) -> String {
        Self::FIELDS
            .iter()
            .filter(|f| !self.get(f).is_empty())
            .map(|f| format!("{f}={}", percent_encode(self.get(f))))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// A `datetime-local` (or RFC 3339) value as UTC.
pub fn parse_local(s: &str) -> Option<DateTime<Utc>> {
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_case_and_come_once() {
        assert_eq!(
            parse_names(" PaymentGateway, b  PaymentGateway,\nc "),
            ["PaymentGateway", "b", "c"]
        );
        assert!(parse_names("  , ").is_empty());
    }

    #[test]
    fn filter_forms_become_filters_and_queries() {
        let form = FilterForm::from_query(|k| match k {
            "topic" => Some(" payment.completed ".into()),
            "error" => Some("a&b c".into()),
            "since" => Some("2026-11-25T14:30".into()),
            _ => None,
        });
        let f = form.to_filter();
        assert_eq!(f.topic.as_deref(), Some("payment.completed"));
        assert_eq!(f.status, None);
        assert_eq!(f.since.unwrap().to_rfc3339(), "2026-11-25T14:30:00+00:00");
        assert_eq!(
            form.query(),
            "topic=payment.completed&error=a%26b%20c&since=2026-11-25T14%3A30"
        );
        assert_eq!(parse_local("junk"), None);
    }

    #[test]
    fn etas_read_naturally() {
        assert_eq!(eta_display(42), "42 s");
        assert_eq!(eta_display(65), "1 min 5 s");
        assert_eq!(eta_display(3725), "1 h 2 min");
    }

    #[test]
    fn prefixes_are_split_and_lowered() {
        assert_eq!(
            parse_prefixes(" Traceparent, b3 ,,x-b3-"),
            vec!["traceparent", "b3", "x-b3-"]
        );
        assert!(parse_prefixes("").is_empty());
    }

    #[test]
    fn scopes_are_tagged_json() {
        let s = ReplayScope::Ids { ids: vec![1, 2] };
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(j, r#"{"kind":"ids","ids":[1,2]}"#);
        assert_eq!(serde_json::from_str::<ReplayScope>(&j).unwrap(), s);
    }
}
