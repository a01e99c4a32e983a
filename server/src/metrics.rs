//! Metrics for the people who run Switchyard, served at `/metrics` in the Prometheus text
//! format (version 0.0.4, via the Prometheus project's own `prometheus-client` crate).
//!
//! Two kinds of series:
//! - **counted as things happen** (one process-wide [`Metrics`], see [`global`]): ingested
//!   records by topic and kind, quarantined records by reason class, ingest batch latency,
//!   replayed messages by outcome, HTTP request latency by route, open push connections;
//! - **set at scrape time** ([`set_figures`]) from what the read model reports
//!   (`read_model::scrape`; this module imports neither it nor ingest): ingest lag per partition
//!   (stored position against the broker's high watermark), breaker states (one gauge per
//!   state, 1 for the current one), replay jobs by status and what running jobs still
//!   have to send.
//!
//! Label values come from a closed set (the topics ingest reads — the cluster's own names,
//! chosen by configuration —, route templates, state names, reason classes): a request path
//! or a record's text never becomes a label, so a hostile client cannot blow up the number
//! of series.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::OnceLock;
use switchyard_app::states::{BreakerState, JobStatus};

pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RecordLabels {
    pub topic: String,
    /// event | dead_letter | quarantined
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// log_replaced | records_expired
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    pub group: String,
    pub topic: String,
    pub partition: i32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BreakerLabels {
    pub service: String,
    pub breaker: String,
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every series Switchyard exports, registered once.
pub struct Metrics {
    registry: Registry,
    pub ingest_records: Family<RecordLabels, Counter>,
    pub ingest_quarantined: Family<ReasonLabels, Counter>,
    pub ingest_batch_seconds: Histogram,
    pub ingest_log_incidents: Family<KindLabels, Counter>,
    pub replay_messages: Family<OutcomeLabels, Counter>,
    pub http_request_seconds: HistogramFamily<HttpLabels>,
    pub push_connections: Gauge,
    pub ingest_lag: Family<PartitionLabels, Gauge>,
    pub breaker_state: Family<BreakerLabels, Gauge>,
    pub replay_jobs: Family<StatusLabels, Gauge>,
    pub replay_remaining: Gauge,
    /// Requests refused by a limit, by reason (a closed set named in `http::limits`).
    pub refusals: Family<ReasonLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut m = Metrics {
            ingest_records: Family::default(),
            ingest_quarantined: Family::default(),
            ingest_batch_seconds: latency_histogram(),
            ingest_log_incidents: Family::default(),
            replay_messages: Family::default(),
            http_request_seconds: Family::new_with_constructor(latency_histogram),
            push_connections: Gauge::default(),
            ingest_lag: Family::default(),
            breaker_state: Family::default(),
            replay_jobs: Family::default(),
            replay_remaining: Gauge::default(),
            refusals: Family::default(),
            registry: Registry::with_prefix("switchyard"),
        };
        m.registry.register(
            "ingest_records",
            "Records ingest read and committed to PostgreSQL, by topic and kind (event, dead_letter, quarantined)",
            m.ingest_records.clone(),
        );
        m.registry.register(
            "ingest_quarantined",
            "Records quarantined by ingest, by reason class",
            m.ingest_quarantined.clone(),
        );
        m.registry.register(
            "ingest_batch_seconds",
            "Time to store one ingest batch (one transaction, projections included)",
            m.ingest_batch_seconds.clone(),
        );
        m.registry.register(
            "ingest_log_incidents",
            "Partitions whose log no longer agreed with the stored position, by kind (log_replaced: past the log's end; records_expired: below its start), each counted once",
            m.ingest_log_incidents.clone(),
        );
        m.registry.register(
            "ingest_lag",
            "Records on the broker not yet stored (high watermark minus stored position)",
            m.ingest_lag.clone(),
        );
        m.registry.register(
            "replay_messages",
            "Dead letters replayed by this process, by outcome (sent, failed, refused)",
            m.replay_messages.clone(),
        );
        m.registry.register(
            "replay_jobs",
            "Replay jobs by status",
            m.replay_jobs.clone(),
        );
        m.registry.register(
            "replay_remaining",
            "Items running replay jobs still have to send",
            m.replay_remaining.clone(),
        );
        m.registry.register(
            "http_request_seconds",
            "HTTP request latency by method, route template and status",
            m.http_request_seconds.clone(),
        );
        m.registry.register(
            "push_connections",
            "Open live-push (server-sent events) connections",
            m.push_connections.clone(),
        );
        m.registry.register(
            "refusals",
            "Requests refused by a limit, by reason (login_throttled, login_audit_skipped, push_streams, assistant_rate, assistant_busy, body_too_large, …)",
            m.refusals.clone(),
        );
        m.registry.register(
            "breaker_state",
            "Circuit breaker state: 1 for the breaker's current state, 0 for the others",
            m.breaker_state.clone(),
        );
        m
    }

    /// The registry in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// Counts one stored ingest batch: its records as (topic, kind) and the reasons of
    /// the quarantined ones.
    pub fn ingest_batch<'a>(
        &self,
        seconds: f64,
        records: impl IntoIterator<Item = (&'a str, &'static str)>,
        quarantine_reasons: impl IntoIterator<Item = &'a str>,
    ) {
        self.ingest_batch_seconds.observe(seconds);
        let count = |topic: &str, kind: &str, n: u64| {
            self.ingest_records
                .get_or_create(&RecordLabels {
                    topic: topic.to_string(),
                    kind: kind.to_string(),
                })
                .inc_by(n);
        };
        let mut runs: std::collections::BTreeMap<(&str, &str), u64> = Default::default();
        for key in records {
            *runs.entry(key).or_default() += 1;
        }
        for reason in quarantine_reasons {
            self.ingest_quarantined
                .get_or_create(&ReasonLabels {
                    reason: reason_class(reason).to_string(),
                })
                .inc();
        }
        for ((topic, kind), n) in runs {
            count(topic, kind, n);
        }
    }

    pub fn replayed(&self, outcome: &str, n: u64) {
        if n > 0 {
            self.replay_messages
                .get_or_create(&OutcomeLabels {
                    outcome: outcome.to_string(),
                })
                .inc_by(n);
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// A quarantine reason reduced to a closed set of classes (the full text stays in the
/// quarantine table).
pub fn reason_class(reason: &str) -> &'static str {
    let r = reason.to_ascii_lowercase();
    let classes: [(&str, &'static str); 11] = [
        ("invalid utf-8", "bad_utf8"),
        ("bad envelope", "wrong_schema"),
        ("invalid json", "bad_json"),
        ("nul character", "bad_json"),
        ("oversized", "oversized"),
        ("tombstone", "empty"),
        ("unknown event type", "unknown_type"),
        ("missing", "missing_field"),
        ("unrecognised shape", "wrong_schema"),
        ("not a json object", "wrong_schema"),
        ("refused by the database", "db_refused"),
    ];
    classes
        .iter()
        .find(|(needle, _)| r.contains(needle))
        .map_or("other", |(_, class)| class)
}

/// What the scrape-time series are set from, read from the read model (and the broker,
/// for lag) by [`crate::read_model::scrape`].
#[derive(Debug, Default)]
pub struct Figures {
    pub lag: Vec<switchyard_app::console::PartitionLag>,
    /// (service, breaker, state) of every breaker.
    pub breakers: Vec<(String, String, String)>,
    /// (status, jobs, messages still to go) per replay-job status.
    pub jobs: Vec<(String, i64, i64)>,
}

/// Sets the scrape-time series.
pub fn set_figures(f: Figures) {
    let m = global();
    for l in f.lag {
        if let Some(high) = l.high_watermark {
            m.ingest_lag
                .get_or_create(&PartitionLabels {
                    group: l.group_id,
                    topic: l.topic,
                    partition: l.partition,
                })
                .set((high - l.next_offset).max(0));
        }
    }
    // Breaker states as the fleet publishes them (Resilience4j's names), matched exactly.
    for (service, breaker, state) in f.breakers {
        for s in BreakerState::ALL {
            m.breaker_state
                .get_or_create(&BreakerLabels {
                    service: service.clone(),
                    breaker: breaker.clone(),
                    state: s.to_string(),
                })
                .set(i64::from(s.as_str() == state));
        }
    }
    let jobs = f.jobs;
    let mut remaining = 0;
    for &s in JobStatus::ALL {
        let found = jobs.iter().find(|j| j.0 == s.as_str());
        m.replay_jobs
            .get_or_create(&StatusLabels {
                status: s.to_string(),
            })
            .set(found.map_or(0, |j| j.1));
        if s == JobStatus::Running {
            remaining = found.map_or(0, |j| j.2);
        }
    }
    m.replay_remaining.set(remaining);
}

/// Counts one request refused by a limit (`reason` from a closed set of literals).
pub fn refused(reason: &'static str) {
    global()
        .refusals
        .get_or_create(&ReasonLabels {
            reason: reason.to_string(),
        })
        .inc();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_fall_into_a_closed_set_of_classes() {
        assert_eq!(reason_class("invalid JSON at line 1 column 2"), "bad_json");
        assert_eq!(reason_class("invalid UTF-8 at byte 0"), "bad_utf8");
        assert_eq!(reason_class("oversized value: 2000000 bytes"), "oversized");
        assert_eq!(reason_class("unknown event type \"x\""), "unknown_type");
        assert_eq!(reason_class("missing aggregate id"), "missing_field");
        assert_eq!(
            reason_class("bad envelope: invalid type: integer `7`"),
            "wrong_schema"
        );
        assert_eq!(reason_class("anything <script>"), "other");
    }

    #[test]
    fn the_text_format_names_every_series() {
        let m = Metrics::new();
        m.push_connections.inc();
        m.replayed("sent", 3);
        m.http_request_seconds
            .get_or_create(&HttpLabels {
                method: "GET".into(),
                route: "/orders".into(),
                status: 200,
            })
            .observe(0.004);
        let text = m.encode();
        assert!(text.contains("switchyard_push_connections 1"), "{text}");
        assert!(text.contains(r#"switchyard_replay_messages_total{outcome="sent"} 3"#));
        assert!(text.contains(
            r#"switchyard_http_request_seconds_bucket{method="GET",route="/orders",status="200",le="0.004"} 1"#
        ));
        assert!(text.contains("# TYPE switchyard_ingest_batch_seconds histogram"));
    }
}
