//! One clear line for a Kafka connection that fails, instead of librdkafka's flood.
//!
//! librdkafka reports a wrong password, an untrusted certificate or an unreachable broker
//! as a stream of lines (one per connection attempt, plus "All broker connections are
//! down" every second), none of which says what to fix. Every librdkafka line passes
//! through [`KafkaLogLayer`] (a `tracing` layer; rdkafka logs through `log`, bridged into
//! `tracing`), which:
//! - recognises the causes an operator can fix ([`classify`]) and logs each **once** as an
//!   error naming it (again only when the cause changes, or after [`REPEAT_AFTER`]);
//! - remembers the latest cause for [`current_problem`], which `/readyz` reports;
//! - passes any other librdkafka warning or error on, each distinct text at most once per
//!   [`REPEAT_AFTER`]; "all broker connections are down" is never said by itself (each
//!   broker's own line gives the reason);
//! - says nothing once the process is stopping (`process::stopping`).
//!
//! The lines are written by a small thread of their own: a layer cannot log from inside
//! the logging call it is handling.

use std::collections::HashMap;
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// How long a cause already reported stays quiet.
pub const REPEAT_AFTER: Duration = Duration::from_secs(300);
/// How long a cause counts as current after librdkafka last reported it (it retries a
/// failing connection at least every `reconnect.backoff.max.ms`, 10 s by default).
pub const CURRENT_FOR: Duration = Duration::from_secs(30);

/// What is wrong with the connection, in words an operator acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    /// One line: the cause, what to check, and the broker's own words.
    pub line: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    Authentication,
    Certificate,
    Tls,
    ProtocolMismatch,
    Unreachable,
}

/// The fixable cause a librdkafka log line names, if any.
pub fn classify(text: &str) -> Option<Problem> {
    let lower = text.to_ascii_lowercase();
    let detail = detail(text);
    let (kind, what) = if lower.contains("sasl authentication error")
        || lower.contains("authentication failed")
        || lower.contains("sasl_authentication_failed")
        || (lower.contains("sasl") && lower.contains("invalid credentials"))
    {
        (
            ProblemKind::Authentication,
            "SASL authentication failed: check sasl.username, sasl.password and sasl.mechanisms",
        )
    } else if lower.contains("certificate verify failed")
        || lower.contains("unable to get local issuer certificate")
        || lower.contains("self-signed certificate")
        || lower.contains("self signed certificate")
        || lower.contains("broken certificate chain")
    {
        (
            ProblemKind::Certificate,
            "the broker's TLS certificate is not trusted: set ssl.ca.location to the CA that signed it",
        )
    } else if lower.contains("ssl handshake failed") || lower.contains("ssl_handshake") {
        (
            ProblemKind::Tls,
            "the TLS handshake with the broker failed: check security.protocol and the ssl.* settings",
        )
    } else if lower.contains("incorrect security.protocol")
        || lower.contains("connecting to a ssl listener")
        || lower.contains("connecting to a plaintext listener")
        || lower.contains("wrong version number")
        || lower.contains("packet length too long")
        || lower.contains("record layer failure")
    {
        (
            ProblemKind::ProtocolMismatch,
            "the broker speaks another security protocol: check security.protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)",
        )
    } else if lower.contains("connection refused")
        || lower.contains("failed to resolve")
        || lower.contains("name or service not known")
        || lower.contains("connection timed out")
        || lower.contains("no route to host")
        || lower.contains("network is unreachable")
    {
        (
            ProblemKind::Unreachable,
            "cannot reach the broker: check KAFKA_BROKERS and the network",
        )
    } else {
        return None;
    };
    Some(Problem {
        kind,
        line: format!("Kafka: {what} ({detail})"),
    })
}

/// The informative tail of a librdkafka line: without the `librdkafka: FAC [thrd:…]:`
/// prefix and the trailing `(after N ms in state …)`, at most 300 characters.
fn detail(text: &str) -> String {
    let mut s = text.trim();
    s = s.strip_prefix("librdkafka:").unwrap_or(s).trim();
    if let Some(i) = s.find("]: ") {
        s = &s[i + 3..];
    }
    if let Some(i) = s.find(" (after ") {
        s = &s[..i];
    }
    s.chars().take(300).collect()
}

struct Latest {
    problem: Problem,
    seen: Instant,
}

fn latest() -> &'static Mutex<Option<Latest>> {
    static LATEST: OnceLock<Mutex<Option<Latest>>> = OnceLock::new();
    LATEST.get_or_init(|| Mutex::new(None))
}

/// The connection problem librdkafka reported within [`CURRENT_FOR`], if any.
pub fn current_problem() -> Option<String> {
    let l = latest().lock().unwrap_or_else(|e| e.into_inner());
    l.as_ref()
        .filter(|l| l.seen.elapsed() < CURRENT_FOR)
        .map(|l| l.problem.line.clone())
}

/// Forgets the current problem (a request to the cluster just succeeded).
pub fn clear_problem() {
    *latest().lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Records a line librdkafka logged; returns what to write, if anything.
fn observe(
    text: &str,
    level: Level,
    said: &mut HashMap<String, Instant>,
) -> Option<(Level, String)> {
    let now = Instant::now();
    if let Some(missing) = missing_topic(text) {
        // A pattern that matches no topic yet is normal (a dead-letter topic appears with
        // the first failure); a named topic that does not exist is said once, as a warning.
        let topic = missing?;
        let key = format!("missing topic {topic}");
        if said
            .get(&key)
            .is_some_and(|t| now.duration_since(*t) < REPEAT_AFTER)
        {
            return None;
        }
        said.insert(key, now);
        return Some((
            Level::WARN,
            format!("Kafka: subscribed topic {topic} does not exist (yet); it is read once it is created"),
        ));
    }
    let (key, out) = match classify(text) {
        Some(p) => {
            let line = p.line.clone();
            *latest().lock().unwrap_or_else(|e| e.into_inner()) = Some(Latest {
                problem: p.clone(),
                seen: now,
            });
            // One report per cause: the details (which broker, which attempt) vary.
            (format!("{:?}", p.kind), (Level::ERROR, line))
        }
        // "All broker connections are down" is a consequence, never the cause: each
        // broker's own line says why (and is reported above, or passed on below).
        None if is_consequence(text) => return None,
        None => {
            let d = detail(text);
            (d.clone(), (level, format!("Kafka client: {d}")))
        }
    };
    match said.get(&key) {
        Some(t) if now.duration_since(*t) < REPEAT_AFTER => None,
        _ => {
            if said.len() > 1000 {
                said.clear();
            }
            said.insert(key, now);
            Some(out)
        }
    }
}

/// For librdkafka's "Subscribed topic not available" (and the consumer error that repeats
/// it): `Some(None)` for a pattern or the repetition, `Some(Some(topic))` for a named topic.
fn missing_topic(text: &str) -> Option<Option<&str>> {
    if let Some((_, rest)) = text.split_once("Subscribed topic not available: ") {
        let topic = rest.split(": ").next().unwrap_or(rest).trim();
        return Some((!topic.starts_with('^')).then_some(topic));
    }
    (text.contains("Message consumption error") && text.contains("UnknownTopicOrPartition"))
        .then_some(None)
}

/// Errors that follow from a cause reported on its own line (each broker's connection
/// failure says why): "all brokers down", "broker transport failure".
fn is_consequence(text: &str) -> bool {
    [
        "brokers are down",
        "All broker connections are down",
        "AllBrokersDown",
        "BrokerTransportFailure",
        "Broker transport failure",
    ]
    .iter()
    .any(|c| text.contains(c))
}

/// Reports an error a Kafka client handed to Switchyard's own code (a consumer poll's
/// error): through the same one-line-per-cause reporting as librdkafka's log.
pub fn client_error(e: &dyn std::fmt::Display) {
    tracing::warn!(target: "rdkafka::client_error", "{e}");
}

/// The layer that turns librdkafka's lines into [`Problem`]s (see the module doc). Give
/// the other layers a filter that leaves out [`is_librdkafka`] targets.
pub struct KafkaLogLayer {
    said: Mutex<HashMap<String, Instant>>,
    out: Mutex<Sender<(Level, String)>>,
}

impl KafkaLogLayer {
    pub fn new() -> KafkaLogLayer {
        let (tx, rx) = mpsc::channel::<(Level, String)>();
        let _ = std::thread::Builder::new()
            .name("kafka-diagnosis".into())
            .spawn(move || {
                for (level, line) in rx {
                    if level == Level::ERROR {
                        tracing::error!(target: "switchyard_contract::kafka", "{line}");
                    } else if level == Level::WARN {
                        tracing::warn!(target: "switchyard_contract::kafka", "{line}");
                    } else {
                        tracing::info!(target: "switchyard_contract::kafka", "{line}");
                    }
                }
            });
        KafkaLogLayer {
            said: Mutex::new(HashMap::new()),
            out: Mutex::new(tx),
        }
    }
}

impl Default for KafkaLogLayer {
    fn default() -> Self {
        KafkaLogLayer::new()
    }
}

/// Whether a `tracing` target is librdkafka's (its log lines and its error callback).
pub fn is_librdkafka(target: &str) -> bool {
    target == "librdkafka" || target.starts_with("rdkafka")
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        }
    }
}

impl<S: Subscriber> Layer<S> for KafkaLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        // Bridged `log` records carry their real target in a field; `tracing-log` puts the
        // bridged target into the normalized metadata, which `target()` below reads too.
        let target = meta.target();
        if !is_librdkafka(target) && !is_librdkafka_log(event) {
            return;
        }
        // Once stopping, a broker that is gone (or the embedded one, closed first by a
        // process that still had clients) is expected: its reconnect lines are noise.
        if *meta.level() > Level::WARN || crate::process::stopping() {
            return;
        }
        let mut m = Message(String::new());
        event.record(&mut m);
        let mut said = self.said.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(out) = observe(&m.0, *meta.level(), &mut said) {
            let _ = self.out.lock().unwrap_or_else(|e| e.into_inner()).send(out);
        }
    }
}

/// A `log` record bridged by `tracing-log` has the target `log` and names its own target
/// in the `log.target` field.
fn is_librdkafka_log(event: &Event<'_>) -> bool {
    struct Target(bool);
    impl Visit for Target {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "log.target" {
                let v = format!("{value:?}");
                self.0 |= is_librdkafka(v.trim_matches('"'));
            }
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "log.target" && is_librdkafka(value) {
                self.0 = true;
            }
        }
    }
    if event.metadata().target() != "log" {
        return false;
    }
    let mut t = Target(false);
    event.record(&mut t);
    t.0
}

/// A per-layer filter that leaves librdkafka's own lines out (the [`KafkaLogLayer`] says
/// what they mean). Unless `RUST_LOG` names librdkafka: then its raw lines are shown too.
pub struct WithoutLibrdkafka {
    raw_wanted: bool,
}

impl WithoutLibrdkafka {
    pub fn from_env() -> WithoutLibrdkafka {
        WithoutLibrdkafka {
            raw_wanted: std::env::var("RUST_LOG").is_ok_and(|f| f.contains("rdkafka")),
        }
    }
}

impl<S: Subscriber> tracing_subscriber::layer::Filter<S> for WithoutLibrdkafka {
    fn enabled(&self, _meta: &tracing::Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        true
    }
    fn event_enabled(&self, event: &Event<'_>, _cx: &Context<'_, S>) -> bool {
        self.raw_wanted || !(is_librdkafka(event.metadata().target()) || is_librdkafka_log(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_named() {
        let cases = [
            (
                "librdkafka: FAIL [thrd:sasl_ssl://127.0.0.1:9093/bootstrap]: sasl_ssl://127.0.0.1:9093/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256 (after 3ms in state AUTH_REQ)",
                ProblemKind::Authentication,
            ),
            (
                "librdkafka: FAIL [thrd:ssl://127.0.0.1:9093/bootstrap]: ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broken certificate chain: (add broker's CA certificate to the trusted certificate store (ssl.ca.location))",
                ProblemKind::Certificate,
            ),
            (
                "librdkafka: FAIL [thrd:127.0.0.1:1/bootstrap]: 127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused (after 0ms in state CONNECT)",
                ProblemKind::Unreachable,
            ),
            (
                "librdkafka: FAIL [thrd:127.0.0.1:9093/bootstrap]: 127.0.0.1:9093/bootstrap: Disconnected while requesting ApiVersion: might be caused by incorrect security.protocol configuration (connecting to a SSL listener?) or broker version is < 0.10",
                ProblemKind::ProtocolMismatch,
            ),
        ];
        for (text, kind) in cases {
            let p = classify(text).unwrap_or_else(|| panic!("not classified: {text}"));
            assert_eq!(p.kind, kind, "{text}");
            assert!(p.line.starts_with("Kafka: "), "{}", p.line);
            assert!(!p.line.contains("(after "), "{}", p.line);
        }
        assert!(classify("librdkafka: CONFWARN [thrd:app]: something harmless").is_none());
    }

    #[test]
    fn a_cause_is_said_once_and_the_consequences_not_at_all() {
        let mut said = HashMap::new();
        let refused = "librdkafka: FAIL [thrd:a:1/bootstrap]: a:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused (after 0ms in state CONNECT)";
        let first = observe(refused, Level::ERROR, &mut said).expect("said");
        assert_eq!(first.0, Level::ERROR);
        for _ in 0..50 {
            assert!(observe(refused, Level::ERROR, &mut said).is_none());
            assert!(observe(
                "librdkafka: Global error: AllBrokersDown (Local: All broker connections are down): 1/1 brokers are down",
                Level::ERROR,
                &mut said
            )
            .is_none());
        }
        assert!(current_problem()
            .unwrap()
            .contains("cannot reach the broker"));
        // Patterns matching nothing yet are normal; a missing named topic is said once.
        let pattern = "librdkafka: Global error: UnknownTopicOrPartition (Broker: Unknown topic or partition): Subscribed topic not available: ^error\\..+\\..+$: Broker: Unknown topic or partition";
        assert!(observe(pattern, Level::ERROR, &mut said).is_none());
        let named = "librdkafka: Global error: UnknownTopicOrPartition (Broker: Unknown topic or partition): Subscribed topic not available: order.created: Broker: Unknown topic or partition";
        let (level, line) = observe(named, Level::ERROR, &mut said).expect("said");
        assert_eq!(level, Level::WARN);
        assert!(
            line.contains("subscribed topic order.created does not exist"),
            "{line}"
        );
        assert!(observe(named, Level::ERROR, &mut said).is_none());
        assert!(observe(
            "Message consumption error: UnknownTopicOrPartition (Broker: Unknown topic or partition)",
            Level::WARN,
            &mut said
        )
        .is_none());
        let other = "librdkafka: CONFWARN [thrd:app]: Configuration property x is deprecated";
        let (_, line) = observe(other, Level::WARN, &mut said).expect("passed on");
        assert_eq!(line, "Kafka client: Configuration property x is deprecated");
        assert!(observe(other, Level::WARN, &mut said).is_none());
        clear_problem();
        assert!(current_problem().is_none());
    }
}
