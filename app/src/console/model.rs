//! The console contract's data: what the pages show, shared by both compile targets.

use crate::ops::OrderRow;
use crate::states::{BreakerState, OrderStatus};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

/// The time window of the overview and breakers pages (`?range=1h`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Range {
    M15,
    #[default]
    H1,
    H6,
    D1,
    D7,
}

impl Range {
    pub const ALL: [Range; 5] = [Range::M15, Range::H1, Range::H6, Range::D1, Range::D7];

    /// The query-string value.
    pub fn key(self) -> &'static str {
        match self {
            Range::M15 => "15m",
            Range::H1 => "1h",
            Range::H6 => "6h",
            Range::D1 => "24h",
            Range::D7 => "7d",
        }
    }

    /// Unknown or missing values fall back to the default (one hour).
    pub fn parse(s: &str) -> Range {
        Range::ALL
            .into_iter()
            .find(|r| r.key() == s)
            .unwrap_or_default()
    }

    pub fn label(self) -> &'static str {
        match self {
            Range::M15 => "15 minutes",
            Range::H1 => "1 hour",
            Range::H6 => "6 hours",
            Range::D1 => "24 hours",
            Range::D7 => "7 days",
        }
    }

    pub fn minutes(self) -> i64 {
        match self {
            Range::M15 => 15,
            Range::H1 => 60,
            Range::H6 => 360,
            Range::D1 => 1440,
            Range::D7 => 10080,
        }
    }

    /// Width of one chart bucket: about 60 buckets per window.
    pub fn bucket_secs(self) -> i64 {
        match self {
            Range::M15 | Range::H1 => 60,
            Range::H6 => 300,
            Range::D1 => 1800,
            Range::D7 => 3 * 3600,
        }
    }
}

/// One named series of (bucket start, value) points.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub points: Vec<(DateTime<Utc>, f64)>,
}

impl Series {
    pub fn total(&self) -> f64 {
        self.points.iter().map(|p| p.1).sum()
    }
}

/// The headline numbers of the overview, over the selected window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Kpis {
    pub orders_per_min: f64,
    /// Completed / (completed + failed + cancelled); `None` when nothing finished.
    pub completion_rate: Option<f64>,
    pub saga_p50_ms: Option<f64>,
    pub saga_p95_ms: Option<f64>,
    /// How many finished sagas the percentiles are over (at most the latest 5,000).
    pub sagas_measured: i64,
    /// Dead letters not replayed or discarded.
    pub dlq_depth: i64,
    /// Dead letters that arrived in the window.
    pub dlq_inflow: i64,
    pub open_breakers: i64,
    pub breakers: i64,
}

/// One breaker transition, for charts and lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionView {
    pub at: DateTime<Utc>,
    pub service: String,
    pub breaker: String,
    pub from_state: BreakerState,
    pub to_state: BreakerState,
}

/// A stored event, as the live ticker shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickerItem {
    pub id: i64,
    pub event_type: String,
    pub aggregate_id: String,
    pub occurred_at: DateTime<Utc>,
}

/// A partition whose log no longer agreed with the position ingest stored, unresolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogIncidentView {
    pub id: i64,
    /// `log_replaced` (stored position past the log's end), `records_expired` (below its
    /// start) or `topic_recreated` (the topic's id changed).
    pub kind: String,
    pub topic: String,
    pub partition: i32,
    pub stored: i64,
    pub log_start: i64,
    pub log_end: i64,
    pub detected_at: DateTime<Utc>,
    /// What ingest did about it (its policy), if anything yet.
    pub action: Option<String>,
    /// Whether it holds its partition paused until an admin decides.
    pub paused: bool,
}

impl LogIncidentView {
    /// One sentence an operator acts on.
    pub fn describe(&self) -> String {
        if self.kind == "log_replaced" {
            format!(
                "{}/{}: the log was replaced (stored position {} is past its end {}): records below {} on the new log were not ingested",
                self.topic, self.partition, self.stored, self.log_end, self.stored
            )
        } else if self.kind == "topic_recreated" {
            format!(
                "{}/{}: the topic was deleted and created again (its id changed): stored position {} belongs to the old log; the new one holds offsets {}..{}",
                self.topic, self.partition, self.stored, self.log_start, self.log_end
            )
        } else {
            format!(
                "{}/{}: offsets {}..{} expired before they were read",
                self.topic, self.partition, self.stored, self.log_start
            )
        }
    }
}

/// Records that expired before ingest read them, on a partition an order's events are on,
/// where they may have held some of its events (its history straddles the gap, or it was
/// still open when the gap began).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogGap {
    pub topic: String,
    pub partition: i32,
    /// The first offset lost, and the first one read after the gap.
    pub from: i64,
    pub to: i64,
    pub detected_at: DateTime<Utc>,
}

/// Ingest lag of one partition: high watermark minus the position stored by ingest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionLag {
    pub group_id: String,
    pub topic: String,
    pub partition: i32,
    pub next_offset: i64,
    /// `None` when the broker could not be asked.
    pub high_watermark: Option<i64>,
    pub updated_at: DateTime<Utc>,
}

impl PartitionLag {
    pub fn lag(&self) -> Option<i64> {
        self.high_watermark.map(|h| (h - self.next_offset).max(0))
    }
}

/// Kafka timestamp of a batch's oldest record → its NOTIFY received here, recent batches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchLatency {
    pub batches: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// Everything the overview needs, as numbers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OverviewData {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub kpis: Kpis,
    /// created, completed, failed, cancelled per bucket.
    pub throughput: Vec<Series>,
    /// p50 and p95 saga duration (ms) per bucket.
    pub durations: Vec<Series>,
    pub dlq_inflow: Series,
    pub transitions: Vec<TransitionView>,
    pub ticker: Vec<TickerItem>,
    pub lag: Vec<PartitionLag>,
    pub batch_latency: Option<BatchLatency>,
    pub quarantined: i64,
    /// Partitions whose log changed under ingest, unresolved (a banner).
    pub log_incidents: Vec<LogIncidentView>,
}

/// One breaker's current row with its last transition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BreakerView {
    pub service: String,
    pub breaker: String,
    pub state: BreakerState,
    pub state_at: DateTime<Utc>,
    pub failure_rate: Option<f64>,
    pub slow_call_rate: Option<f64>,
    pub calls: Option<i64>,
    pub failures: Option<i64>,
    pub slow_calls: Option<i64>,
    pub not_permitted: Option<i64>,
    pub metrics_at: Option<DateTime<Utc>>,
    pub last_transition: Option<TransitionView>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BreakersData {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub breakers: Vec<BreakerView>,
    pub transitions: Vec<TransitionView>,
    pub dlq_inflow: Series,
}

/// The saga steps the step filter offers (`orders.current_step` values).
pub const STEP_CHOICES: [&str; 6] = [
    "inventory:execute",
    "payment:execute",
    "shipment:execute",
    "inventory:compensate",
    "payment:compensate",
    "shipment:compensate",
];

/// Where the next page starts: after this (updated_at, order_id), newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCursor {
    pub updated_at: DateTime<Utc>,
    pub order_id: String,
}

/// The orders list's filters, as read from the page's query string. Empty means "any".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFilter {
    pub status: Option<String>,
    /// An exact `current_step` value, e.g. `payment:compensate`.
    pub step: Option<String>,
    /// Order id (exact or prefix), customer id or correlation id.
    pub q: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub after: Option<OrderCursor>,
    pub limit: i64,
}

/// The orders list's query-string keys.
pub const ORDER_FILTER_KEYS: [&str; 7] =
    ["status", "step", "q", "from", "to", "after_t", "after_id"];

impl OrderFilter {
    /// From query-string pairs; blanks and unreadable values are ignored, text is capped.
    pub fn from_pairs<'a>(get: impl Fn(&str) -> Option<&'a str>, limit: i64) -> OrderFilter {
        let text = |k: &str| {
            get(k)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| v.chars().take(200).collect::<String>())
        };
        let after = match (
            text("after_t").and_then(|t| parse_time(&t)),
            text("after_id"),
        ) {
            (Some(updated_at), Some(order_id)) => Some(OrderCursor {
                updated_at,
                order_id,
            }),
            _ => None,
        };
        OrderFilter {
            status: text("status"),
            step: text("step"),
            q: text("q"),
            from: text("from").and_then(|t| parse_time(&t)),
            to: text("to").and_then(|t| parse_time(&t)),
            after,
            limit: limit.clamp(1, crate::ops::MAX_PAGE),
        }
    }

    /// The query string of this filter (without the cursor), percent-encoded.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        for (k, v) in [
            ("status", &self.status),
            ("step", &self.step),
            ("q", &self.q),
        ] {
            if let Some(v) = v {
                q.push((k, v.clone()));
            }
        }
        for (k, v) in [("from", self.from), ("to", self.to)] {
            if let Some(v) = v {
                q.push((k, input_time(v)));
            }
        }
        q
    }

    /// The link to the page after `cursor` with the same filters.
    pub fn next_href(&self, cursor: &OrderCursor) -> String {
        let mut q = self.query();
        q.push(("after_t", cursor.updated_at.to_rfc3339()));
        q.push(("after_id", cursor.order_id.clone()));
        format!("/orders?{}", encode_query(&q))
    }

    pub fn is_filtered(&self) -> bool {
        self.status.is_some()
            || self.step.is_some()
            || self.q.is_some()
            || self.from.is_some()
            || self.to.is_some()
    }

    /// Whether a pushed row belongs in this (unpaged) view: status, step and time only;
    /// text matches are the server's business.
    pub fn admits(&self, row: &OrderRow) -> bool {
        self.q.is_none()
            && self.after.is_none()
            && self
                .status
                .as_ref()
                .is_none_or(|s| s == row.status.as_str())
            && self.step.as_ref().is_none_or(|s| {
                row.step
                    .as_deref()
                    .is_some_and(|r| r.starts_with(s.as_str()))
            })
            && self.from.is_none_or(|f| row.updated_at >= f)
            && self.to.is_none_or(|t| row.updated_at < t)
    }
}

/// `a=1&b=x%20y`
pub fn encode_query(pairs: &[(&str, String)]) -> String {
    use crate::ops::percent_encode;
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// RFC 3339, or a `datetime-local` input's value (`2026-11-25T16:30[:00]`, taken as UTC).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|n| n.and_utc())
}

/// The value a `datetime-local` input shows for `t` (UTC).
pub fn input_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M").to_string()
}

/// One page of the orders list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdersPageData {
    pub rows: Vec<OrderRow>,
    /// Set when there may be more rows after this page.
    pub next: Option<OrderCursor>,
}

/// An order as it stood after its first `version` events (event-sourcing time travel).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAsOf {
    pub version: i64,
    pub versions: i64,
    /// The event that made this version.
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    /// [`OrderStatus::Unknown`] before any event that sets a status.
    pub status: OrderStatus,
    pub step: Option<String>,
    pub customer_id: Option<String>,
    pub total_cents: Option<i64>,
    pub currency: Option<String>,
    pub item_count: Option<i32>,
    pub failure_reason: Option<String>,
}

/// A breaker's state at some instant: the latest transition at or before it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerAt {
    pub service: String,
    pub breaker: String,
    pub state: BreakerState,
    pub since: DateTime<Utc>,
}

/// A failed saga step of an order and the breakers of its services at that moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureContext {
    pub step: String,
    pub action: String,
    pub at: DateTime<Utc>,
    pub error: Option<String>,
    pub breakers: Vec<BreakerAt>,
}

/// The start of the `bucket`-second bucket holding `t` (buckets aligned to the epoch).
pub fn bin(t: DateTime<Utc>, bucket: i64) -> DateTime<Utc> {
    let s = t.timestamp();
    DateTime::from_timestamp(s - s.rem_euclid(bucket.max(1)), 0).unwrap_or(t)
}

/// A series over every bucket of the window (missing buckets are zero).
pub fn filled(
    name: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: i64,
    values: &std::collections::BTreeMap<DateTime<Utc>, f64>,
) -> Series {
    let mut points = Vec::new();
    let mut t = bin(from, bucket);
    while t < to {
        points.push((t, values.get(&t).copied().unwrap_or(0.0)));
        t += chrono::TimeDelta::seconds(bucket.max(1));
    }
    Series {
        name: name.into(),
        points,
    }
}

/// How many of `times` fall in each bucket of the window.
pub fn counts(
    name: &str,
    times: impl IntoIterator<Item = DateTime<Utc>>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: i64,
) -> Series {
    let mut values = std::collections::BTreeMap::new();
    for t in times {
        *values.entry(bin(t, bucket)).or_insert(0.0) += 1.0;
    }
    filled(name, from, to, bucket, &values)
}

/// A percentile of `values` (nearest rank on a sorted copy); `None` when empty.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

/// "850 ms", "12.4 s", "3.1 min", or an em dash.
pub fn duration_display(ms: Option<f64>) -> String {
    match ms {
        None => "—".into(),
        Some(ms) if ms < 1000.0 => format!("{ms:.0} ms"),
        Some(ms) if ms < 60_000.0 => format!("{:.1} s", ms / 1000.0),
        Some(ms) => format!("{:.1} min", ms / 60_000.0),
    }
}

/// "97.5 %", or an em dash.
pub fn rate_display(r: Option<f64>) -> String {
    r.map_or_else(|| "—".into(), |r| format!("{:.1} %", r * 100.0))
}

/// How a breaker state is styled: "open", "half-open", "closed" or "other".
pub fn breaker_class(state: BreakerState) -> &'static str {
    match state {
        BreakerState::Open | BreakerState::ForcedOpen => "open",
        BreakerState::HalfOpen => "half-open",
        BreakerState::Closed => "closed",
        BreakerState::Disabled | BreakerState::Unknown => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_trip_and_default() {
        for r in Range::ALL {
            assert_eq!(Range::parse(r.key()), r);
            assert!(r.minutes() * 60 / r.bucket_secs() <= 120);
        }
        assert_eq!(Range::parse("<script>"), Range::H1);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 95.0), Some(95.0));
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn filters_read_blanks_as_any_and_keep_odd_text() {
        let pairs = [
            ("status", "  "),
            ("q", "O'Brien %_ <script>"),
            ("from", "2026-11-25T16:30"),
            ("after_t", "2026-11-25T16:00:00+00:00"),
            ("after_id", "ORD-1"),
        ];
        let get = |k: &str| pairs.iter().find(|p| p.0 == k).map(|p| p.1);
        let f = OrderFilter::from_pairs(get, 10_000);
        assert_eq!(f.status, None);
        assert_eq!(f.q.as_deref(), Some("O'Brien %_ <script>"));
        assert_eq!(f.from.unwrap().to_rfc3339(), "2026-11-25T16:30:00+00:00");
        assert_eq!(f.after.as_ref().unwrap().order_id, "ORD-1");
        assert_eq!(f.limit, crate::ops::MAX_PAGE);
        let href = f.next_href(f.after.as_ref().unwrap());
        assert!(
            href.starts_with("/orders?q=O%27Brien%20%25_%20%3Cscript%3E&from="),
            "{href}"
        );
        assert!(!href.contains('<'));
    }
}
