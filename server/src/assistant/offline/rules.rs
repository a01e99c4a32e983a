//! The offline router's rules: what a question names — order ids, customers (by id or by
//! name), correlation ids, event ids, topics (dead-letter topics by any naming convention),
//! services (by name, by their breaker's name or by a word for it), statuses, breaker
//! states (and their negation), errors and time windows (clock times and words). Pure
//! functions of the text and the current time, so the evaluation sets pin them down.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};

/// Everything the rules found in one question.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entities {
    pub order_id: Option<String>,
    /// A `CUST-` id, or a customer called by name ("acme"), lower case.
    pub customer_id: Option<String>,
    /// A word that may be a customer's name ("anything for acme?"): used only when no
    /// other rule says what the question is about.
    pub loose_customer: Option<String>,
    /// A correlation id named as one ("correlation id 7d3c…").
    pub correlation_id: Option<String>,
    pub event_id: Option<String>,
    /// An exact topic named, e.g. `payment.completed`; for a dead-letter topic, its
    /// original topic (`payment.completed.dlq` → `payment.completed`).
    pub topic: Option<String>,
    /// Whether the topic was named as a dead-letter topic (`….dlq`, `….DLT`, `dlq-…`).
    pub dead_letter_topic: bool,
    /// A service named: order, inventory, payment, shipment, notification.
    pub service: Option<String>,
    /// An order status named (failed, cancelled, completed, ..., compensating).
    pub order_status: Option<String>,
    /// A dead-letter status named (parked, replayed, discarded, ...).
    pub dl_status: Option<String>,
    /// A breaker state named (open, closed, half_open).
    pub breaker_state: Option<String>,
    /// A breaker state named negated ("not closed", "isn't open").
    pub breaker_not_state: Option<String>,
    /// An error text named ("timeout", or anything in quotes).
    pub error: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

pub const SERVICES: [&str; 5] = ["order", "inventory", "payment", "shipment", "notification"];

/// The question in lower case, with its words (letters, digits, `-`, `_`, `.`, `:`).
pub fn words(text: &str) -> Vec<String> {
    raw_words(text)
        .iter()
        .map(|w| correct(&w.to_lowercase()))
        .collect()
}

/// The console's own words, which a typo of is read as ("paymnet", "dead leters",
/// "breakrs", "orderes"). Domain words only: names and plain English stay as typed.
const VOCABULARY: &[&str] = &[
    "letters",
    "letter",
    "breaker",
    "breakers",
    "circuit",
    "circuits",
    "orders",
    "payment",
    "payments",
    "inventory",
    "shipment",
    "shipments",
    "shipping",
    "notification",
    "notifications",
    "warehouse",
    "gateway",
    "carrier",
    "failed",
    "failures",
    "failure",
    "failing",
    "errors",
    "events",
    "replay",
    "resend",
    "requeue",
    "reprocess",
    "throughput",
    "completion",
    "compensating",
    "compensation",
    "cancelled",
    "pending",
    "completed",
    "confirmed",
    "parked",
    "outage",
    "outages",
    "incident",
    "incidents",
    "recent",
    "recently",
    "history",
    "transitions",
    "yesterday",
    "minutes",
    "happened",
    "latency",
    "duration",
    "tripped",
    "customer",
    "customers",
    "correlation",
    "status",
    "healthy",
    "summary",
    "replayed",
    "discarded",
    "half-open",
    "dependency",
    "dependencies",
];

/// `word`, or the vocabulary word it is one typo away from (an insertion, deletion,
/// substitution or swap of neighbours), for words of six letters or more.
fn correct(word: &str) -> String {
    // Chat spellings first: "whats goin on w/ inventory", "cust acme ordrs", "msgs rn".
    let chat = match word {
        "goin" => "going",
        "w" | "w/" => "with",
        "pls" | "plz" => "please",
        "rn" => "now",
        "msgs" | "msg" => "messages",
        "ordrs" | "ords" => "orders",
        "cust" => "customer",
        "u" => "you",
        "ur" => "your",
        "thx" | "ty" => "thanks",
        "hr" | "hrs" => "hour",
        "mins" => "minutes",
        _ => "",
    };
    if !chat.is_empty() {
        return chat.to_string();
    }
    if word.len() < 6
        || VOCABULARY.contains(&word)
        || !word.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
    {
        return word.to_string();
    }
    VOCABULARY
        .iter()
        .find(|v| one_typo(word, v))
        .map_or_else(|| word.to_string(), |v| v.to_string())
}

/// Whether `a` and `b` differ by one edit or one swap of neighbouring letters.
fn one_typo(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let p = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if p == la.min(lb) {
        return la != lb;
    }
    if la == lb {
        // One substitution, or a swap of two neighbours.
        a[p + 1..] == b[p + 1..]
            || (p + 1 < la && a[p] == b[p + 1] && a[p + 1] == b[p] && a[p + 2..] == b[p + 2..])
    } else if la > lb {
        a[p + 1..] == b[p..]
    } else {
        a[p..] == b[p + 1..]
    }
}

/// The question's words as written (case kept): ids and topic names are read from these.
fn raw_words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || "-_.:'’".contains(c)))
        .map(|w| {
            let w = w.trim_matches(|c: char| ".:'’-".contains(c));
            // "payments'", "warehouse's", "ORD-7's": the possessive is not part of the word.
            let w = w
                .strip_suffix("'s")
                .or_else(|| w.strip_suffix("’s"))
                .unwrap_or(w);
            w.trim_matches(|c: char| ".:'’-".contains(c)).to_string()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

fn ident_after(text: &str, prefix: &str) -> Option<String> {
    let lower = text.to_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(prefix) {
        let start = from + i;
        // `SAGA-ORD-77` is a correlation id, not the order ORD-77.
        let before_ok = start == 0
            || !text[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_');
        let rest = &text[start + prefix.len()..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        let body = rest[..len].trim_end_matches(['-', '_']);
        if before_ok && !body.is_empty() {
            return Some(format!("{}{}", prefix.to_uppercase(), body.to_uppercase()));
        }
        from = start + prefix.len();
    }
    None
}

/// The first UUID in the text.
fn uuid_in(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .find(|w| w.len() == 36 && w.parse::<uuid::Uuid>().is_ok())
        .map(str::to_lowercase)
}

fn event_number(w: &[String]) -> Option<String> {
    // "event 123", "event #123", "event id 123"
    for (i, x) in w.iter().enumerate() {
        if x == "event" || x == "event_id" {
            for y in w.iter().skip(i + 1).take(2) {
                let y = y.trim_start_matches('#');
                if !y.is_empty() && y.chars().all(|c| c.is_ascii_digit()) {
                    return Some(y.to_string());
                }
            }
        }
    }
    None
}

/// A correlation id named as one: "correlation id X", "correlation X", "correlation-id X",
/// "corr id X", "trace id X". Kept as written.
fn correlation_in(raw: &[String]) -> Option<String> {
    let low: Vec<String> = raw.iter().map(|w| w.to_lowercase()).collect();
    for (i, x) in low.iter().enumerate() {
        let skip = match x.as_str() {
            "correlation" | "corr" | "trace" => {
                if matches!(
                    low.get(i + 1).map(String::as_str),
                    Some("id" | "ids" | "key")
                ) {
                    2
                } else if x == "correlation" || x == "corr" {
                    1
                } else {
                    continue;
                }
            }
            "correlation-id" | "correlation_id" | "correlationid" | "correlation-key"
            | "trace-id" | "trace_id" | "traceid" => 1,
            _ => continue,
        };
        let mut j = i + skip;
        while matches!(
            low.get(j).map(String::as_str),
            Some("is" | "=" | "of" | "equals" | "with")
        ) {
            j += 1;
        }
        if let Some(v) = raw.get(j) {
            if v.chars().any(|c| c.is_ascii_digit()) || v.contains('-') || v.len() >= 6 {
                return Some(v.clone());
            }
        }
        // "a correlation id from the logs, 9e9e-8d8d, ...": the next id-like word.
        if let Some(v) = raw[j.min(raw.len())..]
            .iter()
            .take(5)
            .find(|v| v.chars().any(|c| c.is_ascii_digit()) && (v.contains('-') || v.len() >= 6))
        {
            return Some(v.clone());
        }
    }
    None
}

/// A topic named: a contract event type, or any dead-letter topic by any ecosystem's
/// convention (→ its original topic; `dlq-<connector>` names only itself). The second
/// value says whether it was named as a dead-letter topic.
fn topic_in(raw: &[String]) -> Option<(String, bool)> {
    use switchyard_contract::topic_selection::{
        looks_like_dead_letter_topic, original_topic_from_name,
    };
    let known: Vec<&str> = switchyard_contract::event_types().collect();
    for x in raw {
        let low = x.to_lowercase();
        if known.contains(&low.as_str()) {
            return Some((low, false));
        }
        // A dead-letter topic's name holds a separator and more than a suffix.
        if !(x.contains('.') || x.contains('-') || x.contains('_')) {
            continue;
        }
        if matches!(
            low.as_str(),
            "dead-letter" | "dead-letters" | "dead_letters" | "dead-lettered"
        ) {
            continue;
        }
        if let Some((orig, _)) = original_topic_from_name(x) {
            // Our own topics are lower case: `payment.completed.DLT` is `payment.completed`.
            let o = orig.to_lowercase();
            let orig = if known.contains(&o.as_str()) { o } else { orig };
            return Some((orig, true));
        }
        if looks_like_dead_letter_topic(x) || low.starts_with("dlq-") || low.starts_with("dlq.") {
            return Some((x.clone(), true));
        }
    }
    None
}

/// Words that name a service besides its own name: the breaker of its dependency (from
/// the contract: `warehouse-api`, and each part of it, `warehouse`), and common words.
fn service_of(word: &str) -> Option<&'static str> {
    let w = word.trim_end_matches("'s");
    // "order" is every question's word: the order service is named only as such.
    for s in SERVICES.iter().copied().filter(|s| *s != "order") {
        if w == s || w.strip_suffix('s') == Some(s) {
            return Some(s);
        }
    }
    for (service, breaker) in switchyard_contract::BREAKERS.iter() {
        if w == *breaker
            || breaker.split(['-', '_', '.']).any(|part| {
                part != "api" && part.len() > 3 && (w == part || w.strip_suffix('s') == Some(part))
            })
        {
            return Some(service);
        }
    }
    Some(match w {
        "stock" | "warehouses" | "reservation" | "reservations" => "inventory",
        "billing" | "psp" | "gateways" | "processor" | "processors" | "acquirer" => "payment",
        // Abbreviations in chat: "pmt gw cb open?", "errs in inv", "dlq for ship".
        "pmt" | "pymt" | "gw" => "payment",
        "inv" | "invt" => "inventory",
        "ship" | "shp" => "shipment",
        "notif" | "notifs" => "notification",
        "shipping" | "delivery" | "deliveries" | "courier" | "couriers" | "carriers"
        | "fulfilment" | "fulfillment" | "fulfilments" | "fulfillments" | "dispatch"
        | "logistics" => "shipment",
        "notifications" | "notifier" | "email" | "emails" | "mail" | "mails" | "sms" | "mailer" => {
            "notification"
        }
        _ => return None,
    })
}

fn service_in(w: &[String]) -> Option<String> {
    w.iter().find_map(|x| service_of(x)).map(str::to_string)
}

fn order_status_in(text: &str, w: &[String]) -> Option<String> {
    let t = text.to_lowercase();
    if t.contains("being compensated")
        || t.contains("rolling back")
        || t.contains("in compensation")
        || t.contains("mid-compensation")
        || t.contains("mid compensation")
        || t.contains("undergoing compensation")
        || t.contains("stuck compensation")
        || t.contains("rolled back")
        || t.contains("being rolled")
        || (t.contains("compensation")
            && ["middle", "ongoing", "underway", "progress", "currently"]
                .iter()
                .any(|x| t.contains(x)))
    {
        return Some("compensating".into());
    }
    if t.contains("in progress") || t.contains("in flight") || t.contains("in-flight") {
        return Some("pending".into());
    }
    for x in w {
        let s = match x.as_str() {
            "failed" | "failing" => "failed",
            "cancelled" | "canceled" | "cancelled." => "cancelled",
            "completed" | "complete" | "finished" | "succeeded" | "successful" => "completed",
            "pending" | "unfinished" | "open-ended" => "pending",
            "confirmed" => "confirmed",
            "created" | "new" => "created",
            "compensating" | "compensated" => "compensating",
            _ => continue,
        };
        return Some(s.to_string());
    }
    None
}

fn dl_status_in(w: &[String]) -> Option<String> {
    for x in w {
        let s = match x.as_str() {
            "parked" => "parked",
            "replayed" => "replayed",
            "discarded" | "dropped" | "skipped" => "discarded",
            "pending" | "unreplayed" | "unhandled" | "untouched" => "pending",
            "failed_again" => "failed_again",
            "replaying" => "replaying",
            _ => continue,
        };
        return Some(s.to_string());
    }
    None
}

/// Words that sit between a negation and what it negates without changing it.
const FILLER: &[&str] = &[
    "still",
    "yet",
    "fully",
    "completely",
    "been",
    "be",
    "currently",
    "actually",
    "really",
    "even",
    "back",
    "all",
    "the",
    "in",
    "state",
    "longer",
    "any",
];

/// Whether `w[j]` starts an exclusion: "anything but", "other than", "except", "besides".
fn exclusion(w: &[String], j: usize) -> bool {
    match w[j].as_str() {
        "except" | "excluding" | "besides" => true,
        "but" => j > 0 && matches!(w[j - 1].as_str(), "anything" | "all" | "everything"),
        "than" => j > 0 && w[j - 1] == "other",
        _ => false,
    }
}

fn negator(w: &str) -> bool {
    matches!(
        w,
        "not"
            | "never"
            | "no"
            | "non"
            | "without"
            | "isn't"
            | "aren't"
            | "wasn't"
            | "weren't"
            | "isnt"
            | "arent"
            | "hasn't"
            | "haven't"
            | "didn't"
            | "doesn't"
            | "don't"
            | "isn’t"
            | "aren’t"
            | "nothing"
    ) || w.ends_with("n't")
        || w.ends_with("n’t")
}

/// Whether the word at `i` is negated: a negation right before it, fillers allowed.
fn negated(w: &[String], i: usize) -> bool {
    let mut j = i;
    while j > 0 {
        j -= 1;
        if negator(&w[j]) || exclusion(w, j) {
            return true;
        }
        if !FILLER.contains(&w[j].as_str()) {
            return false;
        }
    }
    false
}

/// (state, negated state): "open", "tripped", "short-circuiting" are open; "not closed"
/// is a negated closed (any state but closed).
fn breaker_state_in(text: &str, w: &[String]) -> (Option<String>, Option<String>) {
    let t = text.to_lowercase();
    let mut states: Vec<(usize, &str)> = Vec::new();
    for (i, x) in w.iter().enumerate() {
        let s = match x.as_str() {
            "half-open" | "half_open" | "halfopen" | "half-opened" | "probing" => "half_open",
            "half" if w.get(i + 1).is_some_and(|n| n == "open" || n == "opened") => "half_open",
            "forced" | "force" if w.get(i + 1).is_some_and(|n| n == "open" || n == "opened") => {
                "forced_open"
            }
            "open" | "opened" | "tripped" | "trip" | "trips" | "tripping" | "short-circuiting"
            | "short-circuited" | "short-circuit" | "shortcircuiting" | "rejecting"
            | "blocking" | "blocked" | "popped" => {
                if i > 0 && matches!(w[i - 1].as_str(), "half" | "forced" | "force") {
                    continue;
                }
                if x == "trip" || x == "trips" {
                    // "how often did it trip" is history, not a filter for open ones.
                    continue;
                }
                // "open source", "open a ticket": not a breaker's state.
                if x == "open"
                    && w.get(i + 1).is_some_and(|n| {
                        matches!(
                            n.as_str(),
                            "source"
                                | "a"
                                | "an"
                                | "the"
                                | "ticket"
                                | "issue"
                                | "incident"
                                | "jira"
                        )
                    })
                {
                    continue;
                }
                "open"
            }
            "forced-open" | "forced_open" => "forced_open",
            "closed" | "close" | "reclosed" | "re-closed" => "closed",
            "disabled" => "disabled",
            _ => continue,
        };
        states.push((i, s));
    }
    if t.contains("short circuit") || t.contains("failing fast") || t.contains("fail fast") {
        if let Some(i) = w
            .iter()
            .position(|x| x == "short" || x == "failing" || x == "fail")
        {
            states.push((i, "open"));
        }
    }
    if states.is_empty()
        && w.iter()
            .any(|x| matches!(x.as_str(), "breaker" | "breakers" | "circuit" | "circuits"))
        && w.iter()
            .any(|x| matches!(x.as_str(), "problem" | "culprit" | "broken" | "misbehaving"))
    {
        // "which breaker is the problem?": the open one.
        return (Some("open".into()), None);
    }
    let Some(&(i, s)) = states.first() else {
        return (None, None);
    };
    // "open or half-open": every state but one is the negation of that one.
    let named: Vec<&str> = states
        .iter()
        .filter(|(j, _)| !negated(w, *j))
        .map(|(_, x)| *x)
        .collect();
    // Any two of the three main states: the negation of the third ("half open or closed"
    // is not open).
    let main = ["open", "half_open", "closed"];
    let named: Vec<&str> = main.iter().copied().filter(|m| named.contains(m)).collect();
    if named.len() == 2 {
        let third = main
            .iter()
            .find(|m| !named.contains(m))
            .expect("three states");
        return (None, Some(third.to_string()));
    }
    if negated(w, i) {
        (None, Some(s.to_string()))
    } else {
        (Some(s.to_string()), None)
    }
}

fn error_in(text: &str, w: &[String]) -> Option<String> {
    for q in ['"', '\u{201c}'] {
        let close = if q == '\u{201c}' { '\u{201d}' } else { q };
        if let Some(a) = text.find(q) {
            let rest = &text[a + q.len_utf8()..];
            if let Some(b) = rest.find(close) {
                let inner = rest[..b].trim();
                if inner.len() > 1 {
                    return Some(inner.to_string());
                }
            }
        }
    }
    for x in w {
        let s = match x.as_str() {
            "timeout" | "timeouts" | "timed" | "time-out" | "time-outs" => "timeout",
            "declined" | "decline" | "declines" => "declined",
            "poison" => "poison",
            "deserialization" | "deserialisation" | "deserialize" | "deserialise" => "deserializ",
            _ => continue,
        };
        return Some(s.to_string());
    }
    None
}

/// Words that are not a customer's name after "for", "by", "of", "from".
const NOT_A_NAME: &[&str] = &[
    "everything",
    "anything",
    "something",
    "nothing",
    "the",
    "a",
    "an",
    "all",
    "any",
    "every",
    "each",
    "this",
    "that",
    "these",
    "those",
    "me",
    "us",
    "it",
    "them",
    "today",
    "yesterday",
    "now",
    "customer",
    "customers",
    "order",
    "orders",
    "id",
    "ids",
    "status",
    "last",
    "past",
    "since",
    "recent",
    "recently",
    "more",
    "my",
    "our",
    "your",
    "their",
    "his",
    "her",
    "which",
    "what",
    "who",
    "one",
    "some",
    "over",
    "in",
    "on",
    "at",
    "to",
    "and",
    "or",
    "with",
    "ago",
    "hour",
    "hours",
    "minute",
    "minutes",
    "day",
    "days",
    "week",
    "lately",
    "morning",
    "evening",
    "afternoon",
    "night",
    "tonight",
    "here",
    "there",
    "correlation",
    "trace",
    "event",
    "events",
    "dead",
    "dlq",
    "dlqs",
    "breaker",
    "breakers",
    "how",
    "many",
    "much",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "they",
    "he",
    "she",
    "we",
    "you",
    "i",
    "so",
    "far",
    "long",
    "instance",
    "example",
    "topic",
    "topics",
    "half",
    "payload",
    "error",
    "errors",
    "reason",
    "step",
    "steps",
    "saga",
    "sagas",
    "details",
    "real",
    "good",
    "now?",
    "please",
];

fn name_ok(x: &str) -> bool {
    x.len() >= 2
        && x.chars().any(|c| c.is_alphabetic())
        && !NOT_A_NAME.contains(&x)
        && service_of(x).is_none()
        && !x.starts_with("ord-")
        && unit(x).is_none()
        && !x.starts_with(|c: char| c.is_ascii_digit())
        && !x.contains('.')
        && !matches!(
            x,
            "failed"
                | "cancelled"
                | "canceled"
                | "completed"
                | "pending"
                | "confirmed"
                | "created"
                | "new"
                | "compensating"
                | "stuck"
                | "placed"
                | "open"
                | "closed"
        )
}

/// A customer's name in the possessive before orders: "initech's orders".
fn possessive_customer(text: &str) -> Option<String> {
    let t = text.to_lowercase().replace('’', "'");
    let w: Vec<&str> = t
        .split_whitespace()
        .map(|x| x.trim_matches(|c: char| !(c.is_alphanumeric() || c == '\'')))
        .collect();
    // "initech's orders", "acme's failed orders", "acme's latest two orders"
    w.iter().enumerate().find_map(|(i, x)| {
        let name = x.strip_suffix("'s")?;
        let orders = w[i + 1..]
            .iter()
            .take(3)
            .any(|n| matches!(*n, "orders" | "order" | "purchases"));
        (orders && name_ok(name)).then(|| name.to_string())
    })
}

/// Words that come before "orders" without naming a customer.
const BEFORE_ORDERS: &[&str] = &[
    "latest",
    "newest",
    "oldest",
    "recent",
    "last",
    "first",
    "next",
    "big",
    "large",
    "small",
    "old",
    "stuck",
    "slow",
    "late",
    "open",
    "closed",
    "active",
    "current",
    "other",
    "more",
    "most",
    "many",
    "few",
    "several",
    "no",
    "ten",
    "top",
    "bad",
    "broken",
    "high",
    "low",
    "test",
    "duplicate",
    "todays",
    "yesterdays",
    "inventory",
    "payment",
    "shipment",
    // The verbs that ask for a list are not names either.
    "show",
    "list",
    "find",
    "get",
    "pull",
    "search",
    "count",
    "display",
    "give",
    "fetch",
    "see",
    "view",
    "check",
    "print",
    "return",
    "load",
    "which",
    "what",
    "how",
];

/// "globex orders since yesterday", "show acme orders": a name right before "orders", at
/// the start or after a verb that asks for a list.
fn name_before_orders(w: &[String]) -> Option<String> {
    w.windows(2).enumerate().find_map(|(i, p)| {
        let lead = i == 0
            || matches!(
                w[i - 1].as_str(),
                "show" | "list" | "find" | "get" | "pull" | "all" | "any" | "me"
            );
        (lead
            && matches!(p[1].as_str(), "orders" | "purchases")
            && name_ok(&p[0])
            && !BEFORE_ORDERS.contains(&p[0].as_str())
            && !COMMON.contains(&p[0].as_str()))
        .then(|| p[0].clone())
    })
}

/// A word after "for", "by" or "from" that may name a customer ("anything for acme?").
fn loose_customer_in(w: &[String]) -> Option<String> {
    w.windows(2).find_map(|p| {
        (matches!(p[0].as_str(), "for" | "by" | "from")
            && name_ok(&p[1])
            && !COMMON.contains(&p[1].as_str()))
        .then(|| p[1].clone())
    })
}

/// Common words that follow "for"/"by"/"from" without naming anyone.
const COMMON: &[&str] = &[
    "real",
    "sure",
    "good",
    "example",
    "instance",
    "now",
    "later",
    "then",
    "everything",
    "anything",
    "something",
    "nothing",
    "everyone",
    "anyone",
    "someone",
    "topic",
    "queue",
    "service",
    "services",
    "reason",
    "reasons",
    "cause",
    "causes",
    "step",
    "type",
    "kind",
    "hand",
    "start",
    "scratch",
    "kafka",
    "postgres",
    "metrics",
    "breakers",
    "minutes",
    "hours",
    "days",
    "weeks",
    "while",
    "whole",
    "entire",
    "rest",
    "start",
    "team",
    "ops",
];

/// A customer called by name: "customer acme", "acme's orders", "orders placed by acme",
/// "orders for acme", "everything acme ordered". Lower case.
fn customer_name_in(w: &[String]) -> Option<String> {
    let ordered = |x: &str| matches!(x, "ordered" | "bought" | "placed" | "purchased");
    for (i, x) in w.iter().enumerate() {
        let next = w.get(i + 1).map(String::as_str);
        match x.as_str() {
            "customer" | "client" | "account" | "tenant" => {
                // "customer acme", "the customer called acme", "customer named acme"
                let n = match next {
                    Some("called" | "named" | "name" | "is") => w.get(i + 2).map(String::as_str),
                    other => other,
                };
                if let Some(n) = n.filter(|n| name_ok(n)) {
                    return Some(n.to_string());
                }
            }
            "orders" | "order" | "purchases" => {
                // "orders for acme", "orders placed by acme", "orders from acme"
                let mut j = i + 1;
                while w.get(j).is_some_and(|y| {
                    matches!(
                        y.as_str(),
                        "placed"
                            | "made"
                            | "created"
                            | "submitted"
                            | "of"
                            | "for"
                            | "from"
                            | "by"
                            | "belonging"
                            | "owned"
                            | "to"
                    )
                }) {
                    j += 1;
                }
                // "to" only in "belonging to": "export orders to csv" names no one.
                if j > i + 1
                    && w[i + 1..j].iter().enumerate().any(|(k, y)| {
                        matches!(y.as_str(), "of" | "for" | "from" | "by")
                            || (y == "to" && k > 0 && w[i + k] == "belonging")
                    })
                {
                    if let Some(n) = w.get(j).filter(|n| name_ok(n)) {
                        return Some(n.to_string());
                    }
                }
            }
            _ => {}
        }
        // "acme ordered", "what did acme order", "has acme bought"
        let asked = i > 0 && matches!(w[i - 1].as_str(), "did" | "has" | "have" | "does" | "do");
        let verb = next.is_some_and(|n| {
            ordered(n)
                || (asked
                    && matches!(
                        n,
                        "order" | "buy" | "purchase" | "place" | "submit" | "make" | "get"
                    ))
        });
        if verb && name_ok(x) && i > 0 {
            // "everything massive dynamic ordered": the name's words before the verb.
            let mut start = i;
            while start > 0 && i - start < 2 && name_ok(&w[start - 1]) && !asked {
                start -= 1;
            }
            return Some(w[start..=i].join(" "));
        }
    }
    None
}

fn unit(u: &str) -> Option<Duration> {
    Some(match u {
        "s" | "sec" | "secs" | "second" | "seconds" => Duration::seconds(1),
        "m" | "min" | "mins" | "minute" | "minutes" => Duration::minutes(1),
        "h" | "hr" | "hrs" | "hour" | "hours" => Duration::hours(1),
        "d" | "day" | "days" => Duration::days(1),
        "w" | "week" | "weeks" => Duration::weeks(1),
        _ => return None,
    })
}

/// A count in figures or words ("15", "fifteen", "a couple of", "few").
fn count(w: &str) -> Option<i64> {
    if let Ok(n) = w.parse::<i64>() {
        return Some(n);
    }
    Some(match w {
        "a" | "an" | "one" => 1,
        "two" | "couple" => 2,
        "three" | "few" => 3,
        "four" => 4,
        "five" | "several" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "twelve" => 12,
        "fifteen" => 15,
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "forty-five" => 45,
        "fifty" => 50,
        "sixty" => 60,
        "ninety" => 90,
        _ => return None,
    })
}

/// A span at `w[i..]`: "30 minutes", "30m", "hour", "half hour", "half an hour",
/// "quarter of an hour", "couple of hours", "few minutes", "15-minute". Returns the span
/// and how many words it took.
fn span(w: &[String], i: usize) -> Option<(Duration, usize)> {
    let (d, n) = span_words(w, i)?;
    // "an hour and a half", "2 hours and a half"
    if w.get(i + n).is_some_and(|x| x == "and")
        && matches!(w.get(i + n + 1).map(String::as_str), Some("a" | "an"))
        && w.get(i + n + 2).is_some_and(|x| x == "half")
    {
        return Some((d + d / 2, n + 3));
    }
    Some((d, n))
}

fn span_words(w: &[String], i: usize) -> Option<(Duration, usize)> {
    let at = |k: usize| w.get(i + k).map(String::as_str);
    let skip_of = |k: usize| if at(k) == Some("of") { k + 1 } else { k };
    let first = at(0)?;
    if let Some(d) = unit(first) {
        return Some((d, 1));
    }
    // "half-hour", "quarter-hour", "30-minute", "two-hour": one hyphenated word.
    if let Some((a, b)) = first.split_once('-') {
        if let Some(d) = unit(b) {
            let d = match a {
                "half" => d / 2,
                "quarter" => d / 4,
                _ => d * count(a)? as i32,
            };
            return Some((d, 1));
        }
    }
    if first == "half" {
        let k = if matches!(at(1), Some("an" | "a")) {
            2
        } else {
            1
        };
        if let Some(d) = at(k).and_then(unit) {
            return Some((d / 2, k + 1));
        }
    }
    if first == "quarter" {
        let k = skip_of(1);
        let k = if matches!(at(k), Some("an" | "a")) {
            k + 1
        } else {
            k
        };
        if let Some(d) = at(k).and_then(unit) {
            return Some((d / 4, k + 1));
        }
    }
    if let Some((n, d)) = split_num_unit(first) {
        return Some((d * n as i32, 1));
    }
    if let Some(n) = count(first) {
        let k = skip_of(1);
        if let Some(d) = at(k).and_then(unit) {
            return Some((d * n as i32, k + 1));
        }
        // "1.5 hours" is rare; "an hour and a half" too: not read.
    }
    None
}

/// A clock time after "since", "from", "before", ...: also a bare hour ("since 11"),
/// unless a unit follows ("since 2 days").
fn clock_after(w: &str, next: Option<&str>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    clock(w, next, now).or_else(|| {
        let h: u32 = w.parse().ok()?;
        if h > 23 || next.is_some_and(|n| unit(n).is_some() || count(n).is_some()) {
            return None;
        }
        let t = NaiveTime::from_hms_opt(h, 0, 0)?;
        let today = Utc.from_utc_datetime(&now.date_naive().and_time(t));
        Some(if today > now {
            today - Duration::days(1)
        } else {
            today
        })
    })
}

fn clock(w: &str, next: Option<&str>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let w = w.trim_end_matches("utc").trim_end_matches('z');
    let (w, pm) = match (w.strip_suffix("pm"), w.strip_suffix("am"), next) {
        (Some(x), _, _) => (x, Some(true)),
        (_, Some(x), _) => (x, Some(false)),
        (_, _, Some("pm" | "p.m")) => (w, Some(true)),
        (_, _, Some("am" | "a.m")) => (w, Some(false)),
        _ => (w, None),
    };
    let mut t = NaiveTime::parse_from_str(w, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(w, "%H:%M:%S"))
        .or_else(|_| NaiveTime::parse_from_str(w, "%Hh%M"))
        .ok()
        .or_else(|| {
            // "10am", "since 9 pm", "at 14h": a bare hour needs its am/pm or `h`.
            let (h, ok) = match w.strip_suffix('h') {
                Some(h) => (h, true),
                None => (w, pm.is_some()),
            };
            let h: u32 = h.parse().ok()?;
            (ok && h < 24).then(|| NaiveTime::from_hms_opt(h, 0, 0))?
        })?;
    if let Some(pm) = pm {
        use chrono::Timelike;
        let h = t.hour() % 12 + if pm { 12 } else { 0 };
        t = t.with_hour(h)?;
    }
    let today = Utc.from_utc_datetime(&now.date_naive().and_time(t));
    Some(if today > now {
        today - Duration::days(1)
    } else {
        today
    })
}

fn midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.from_utc_datetime(&now.date_naive().and_time(NaiveTime::MIN))
}

/// A part of the day: (start, end) hours.
fn part_of_day(w: &str) -> Option<(i64, i64)> {
    Some(match w {
        "morning" => (0, 12),
        "afternoon" => (12, 18),
        "evening" | "tonight" => (18, 24),
        "night" => (-6, 6),
        _ => return None,
    })
}

/// A time window named in the question, relative to `now` (clock times are UTC).
pub fn window(w: &[String], now: DateTime<Utc>) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let mut since = None;
    let mut until = None;
    let day = midnight(now);
    let hours = |h: i64| day + Duration::hours(h);
    for (i, x) in w.iter().enumerate() {
        let next = w.get(i + 1).map(String::as_str);
        let next2 = w.get(i + 2).map(String::as_str);
        match x.as_str() {
            "last" if next == Some("night") => {
                since = Some(day - Duration::hours(6));
                until = Some(day + Duration::hours(6));
            }
            "last" | "past" | "previous" | "recent" | "latest" | "trailing" | "over" | "within"
            | "in" | "for" | "during" => {
                // "compared with the previous hour": the baseline, not the window.
                let back = |k: usize| i.checked_sub(k).map(|j| w[j].as_str());
                let baseline = matches!(back(1), Some("than" | "vs" | "versus"))
                    || matches!(back(1), Some("with" | "to")) && back(2) == Some("compared")
                    || matches!(back(2), Some("with" | "to")) && back(3) == Some("compared")
                    || matches!(back(2), Some("than" | "vs" | "versus"));
                if baseline {
                    continue;
                }
                // "last hour", "last 30 minutes", "past 2h", "the last half hour",
                // "over the past few minutes", "within an hour", "in the last 15 min"
                let mut j = i + 1;
                if matches!(w.get(j).map(String::as_str), Some("the" | "a" | "an"))
                    && !matches!(x.as_str(), "last" | "past" | "previous")
                {
                    j += if w.get(j).is_some_and(|a| a == "the") {
                        1
                    } else {
                        0
                    };
                }
                if matches!(x.as_str(), "over" | "within" | "in" | "for" | "during")
                    && !matches!(
                        w.get(j).map(String::as_str),
                        Some("last" | "past" | "previous" | "an" | "a" | "half" | "quarter")
                    )
                    && !w.get(j).is_some_and(|y| {
                        count(y).is_some() || split_num_unit(y).is_some() || unit(y).is_some()
                    })
                {
                    continue;
                }
                if matches!(x.as_str(), "in" | "for" | "during" | "over" | "within")
                    && matches!(
                        w.get(j).map(String::as_str),
                        Some("last" | "past" | "previous")
                    )
                {
                    continue; // the next word starts the span
                }
                if let Some((d, _)) = span(w, j) {
                    since = Some(now - d);
                }
            }
            // "older than an hour": until that long ago.
            "older" | "earlier" if next == Some("than") => {
                if let Some((d, _)) = span(w, i + 2) {
                    until = Some(now - d);
                }
            }
            "ago" if i > 0 => {
                // "an hour ago", "20 minutes ago", "half an hour ago"
                for back in (1..=4.min(i)).rev() {
                    if let Some((d, n)) = span(w, i - back) {
                        if n == back {
                            since = Some(now - d);
                            break;
                        }
                    }
                }
            }
            "since" | "after" | "from" | "starting" => match next {
                Some("yesterday") => {
                    since = Some(day - Duration::days(1));
                    // "from yesterday" is that day; "since yesterday" runs up to now.
                    if x == "from" {
                        until = Some(day);
                    }
                }
                Some("midnight") | Some("today") => since = Some(day),
                Some("this") if next2.and_then(part_of_day).is_some() => {}
                Some("noon") | Some("midday") => since = Some(hours(12).min(now)),
                Some("the") if x == "after" || x == "since" => {
                    // "after the deploy at 11:00": the clock time a few words on.
                    if let Some(c) = w[i + 1..]
                        .iter()
                        .take(5)
                        .enumerate()
                        .find_map(|(k, y)| clock(y, w.get(i + 2 + k).map(String::as_str), now))
                    {
                        since = Some(c);
                    }
                }
                Some("monday") | Some("the") | Some("last") | Some("an") | Some("a") => {}
                Some(t) => {
                    if let Some(c) = clock_after(t, next2, now) {
                        since = Some(c)
                    } else if let Some((d, _)) = span(w, i + 1) {
                        // "since one hour", "since 20 minutes": that long ago.
                        since = Some(now - d)
                    }
                }
                None => {}
            },
            // "since noon yesterday", "from 10:00 yesterday": that time, the day before.
            "yesterday"
                if i >= 2
                    && matches!(w[i - 2].as_str(), "since" | "from" | "after")
                    && since.is_some_and(|s| s >= day) =>
            {
                since = since.map(|s| s - Duration::days(1));
            }
            "between" => {
                // "between 09:00 and 10:30", "between 9 and 10"
                if let Some(a) = next.and_then(|t| clock_after(t, next2, now)) {
                    since = Some(a);
                    let b = w[i + 2..]
                        .iter()
                        .position(|y| y == "and" || y == "to")
                        .and_then(|k| {
                            let k = i + 2 + k + 1;
                            clock_after(w.get(k)?, w.get(k + 1).map(String::as_str), now)
                        });
                    if let Some(b) = b {
                        until = Some(if b < a { b + Duration::days(1) } else { b });
                    }
                }
            }
            "before" | "until" | "till" | "til" | "to" if until.is_none() => {
                if x == "to" && since.is_none() {
                    continue;
                }
                if let Some(c) = next.and_then(|t| clock_after(t, next2, now)) {
                    until = Some(if since.is_some_and(|s| c < s) {
                        c + Duration::days(1)
                    } else {
                        c
                    })
                }
            }
            // "older than today", "before today": everything until midnight.
            // ("slower than yesterday" compares; it names no window.)
            "today" | "todays" | "yesterday"
                if i > 0
                    && (matches!(w[i - 1].as_str(), "before" | "until" | "till")
                        || w[i - 1] == "than"
                            && i > 1
                            && matches!(w[i - 2].as_str(), "older" | "earlier")) =>
            {
                until = Some(if x == "yesterday" {
                    day - Duration::days(1)
                } else {
                    day
                });
            }
            "today" | "todays" | "yesterday" if i > 1 && w[i - 1] == "than" => {
                // "slower than yesterday": a comparison, not a window.
            }
            "today" | "todays" | "today's" if since.is_none() => since = Some(day),
            "yesterday" if since.is_none() => {
                since = Some(day - Duration::days(1));
                let since_yesterday = i > 0 && matches!(w[i - 1].as_str(), "since" | "from");
                if !since_yesterday {
                    until = Some(day);
                }
            }
            "recently" | "lately" if since.is_none() => since = Some(now - Duration::hours(1)),
            "just" if next == Some("now") && since.is_none() => {
                since = Some(now - Duration::minutes(15))
            }
            "this" | "tonight" => {
                let part = if x == "tonight" {
                    Some("tonight")
                } else {
                    next
                };
                if let Some((a, b)) = part.and_then(part_of_day) {
                    since = Some(hours(a).min(now));
                    let end = hours(b);
                    until = (end < now).then_some(end);
                } else if part == Some("week") {
                    let back = now.weekday().num_days_from_monday() as i64;
                    since = Some(day - Duration::days(back));
                } else if part == Some("hour") {
                    since = Some(now - Duration::hours(1));
                }
            }
            "overnight" if since.is_none() => {
                since = Some(day - Duration::hours(6));
                until = Some((day + Duration::hours(6)).min(now));
            }
            _ => {}
        }
    }
    if since.is_none() && until.is_none() {
        // Terse questions: "p95 15m", "outages 1h", "incident payment 10 min" — a bare
        // duration in figures is the window up to now.
        since = w.iter().enumerate().find_map(|(i, x)| {
            if x.parse::<i64>().is_ok() {
                let (d, n) = span(w, i)?;
                (n == 2 && w.get(i + 2).is_none_or(|a| a != "ago")).then(|| now - d)
            } else {
                split_num_unit(x)
                    .filter(|_| w.get(i + 1).is_none_or(|a| a != "ago"))
                    .map(|(n, d)| now - d * n as i32)
            }
        });
    }
    (since, until)
}

/// "30m", "2h", "15min", "15-minute" → (30, minute), ...
fn split_num_unit(w: &str) -> Option<(i64, Duration)> {
    let i = w.find(|c: char| !c.is_ascii_digit())?;
    let n = w[..i].parse().ok()?;
    Some((n, unit(w[i..].trim_start_matches('-'))?))
}

/// Everything the rules can tell from `text`.
pub fn extract(text: &str, now: DateTime<Utc>) -> Entities {
    let raw = raw_words(text);
    let w: Vec<String> = raw.iter().map(|x| correct(&x.to_lowercase())).collect();
    let (since, until) = window(&w, now);
    let (breaker_state, breaker_not_state) = breaker_state_in(text, &w);
    let topic = topic_in(&raw);
    let correlation_id = correlation_in(&raw);
    let mut event_id = uuid_in(text).or_else(|| event_number(&w));
    if correlation_id.is_some()
        && event_id.as_deref() == correlation_id.as_deref().map(str::to_lowercase).as_deref()
    {
        event_id = None;
    }
    // An order id inside a correlation id (`ORD-77-retry`) is the correlation id's.
    let order_id = ident_after(text, "ord-").filter(|o| {
        correlation_id
            .as_deref()
            .is_none_or(|c| !c.to_uppercase().contains(o.as_str()))
    });
    let customer_id = ident_after(text, "cust-")
        .or_else(|| customer_name_in(&w))
        .or_else(|| possessive_customer(text))
        .or_else(|| name_before_orders(&w));
    let loose_customer = customer_id
        .is_none()
        .then(|| loose_customer_in(&w))
        .flatten();
    Entities {
        order_id,
        customer_id,
        loose_customer,
        correlation_id,
        event_id,
        dead_letter_topic: topic.as_ref().is_some_and(|t| t.1),
        topic: topic.map(|t| t.0),
        service: service_in(&w),
        order_status: order_status_in(text, &w),
        dl_status: dl_status_in(&w),
        breaker_state,
        breaker_not_state,
        error: error_in(text, &w),
        since,
        until,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-25T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn ids_are_found_and_normalised() {
        let e = extract("why did ord-1042 fail?", now());
        assert_eq!(e.order_id.as_deref(), Some("ORD-1042"));
        let e = extract("orders of CUST-0042", now());
        assert_eq!(e.customer_id.as_deref(), Some("CUST-0042"));
        assert_eq!(e.order_id, None);
        let e = extract("event 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", now());
        assert_eq!(
            e.event_id.as_deref(),
            Some("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
        );
        assert_eq!(
            extract("show event #77", now()).event_id.as_deref(),
            Some("77")
        );
    }

    #[test]
    fn time_windows() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let e = extract("dead letters since 10:00", now());
        assert_eq!(e.since, Some(at("2026-11-25T10:00:00Z")));
        let e = extract("in the last 30 minutes", now());
        assert_eq!(e.since, Some(at("2026-11-25T11:30:00Z")));
        let e = extract("from the last hour", now());
        assert_eq!(e.since, Some(at("2026-11-25T11:00:00Z")));
        let e = extract("past 2h", now());
        assert_eq!(e.since, Some(at("2026-11-25T10:00:00Z")));
        let e = extract("since 13:00", now());
        assert_eq!(
            e.since,
            Some(at("2026-11-24T13:00:00Z")),
            "a later clock time is yesterday's"
        );
        let e = extract("yesterday", now());
        assert_eq!(
            (e.since, e.until),
            (
                Some(at("2026-11-24T00:00:00Z")),
                Some(at("2026-11-25T00:00:00Z"))
            )
        );
        let e = extract("between 09:00 and 10:30", now());
        assert_eq!(
            (e.since, e.until),
            (
                Some(at("2026-11-25T09:00:00Z")),
                Some(at("2026-11-25T10:30:00Z"))
            )
        );
    }

    #[test]
    fn topics_services_states_errors() {
        let e = extract(
            "payment.completed dead letters with \"gateway timeout\"",
            now(),
        );
        assert_eq!(e.topic.as_deref(), Some("payment.completed"));
        assert_eq!(e.error.as_deref(), Some("gateway timeout"));
        let e = extract("which breakers are half-open for shipping?", now());
        assert_eq!(e.breaker_state.as_deref(), Some("half_open"));
        assert_eq!(e.service.as_deref(), Some("shipment"));
    }

    #[test]
    fn time_in_words() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let since = |q: &str| extract(q, now()).since;
        assert_eq!(
            since("in the last half hour"),
            Some(at("2026-11-25T11:30:00Z"))
        );
        assert_eq!(
            since("over the past hour"),
            Some(at("2026-11-25T11:00:00Z"))
        );
        assert_eq!(since("half an hour ago"), Some(at("2026-11-25T11:30:00Z")));
        assert_eq!(since("20 minutes ago"), Some(at("2026-11-25T11:40:00Z")));
        assert_eq!(
            since("the last quarter of an hour"),
            Some(at("2026-11-25T11:45:00Z"))
        );
        assert_eq!(
            since("the last ten minutes"),
            Some(at("2026-11-25T11:50:00Z"))
        );
        assert_eq!(
            since("the last couple of hours"),
            Some(at("2026-11-25T10:00:00Z"))
        );
        assert_eq!(
            since("what failed recently"),
            Some(at("2026-11-25T11:00:00Z"))
        );
        assert_eq!(since("today"), Some(at("2026-11-25T00:00:00Z")));
        assert_eq!(since("this morning"), Some(at("2026-11-25T00:00:00Z")));
        assert_eq!(since("since 10am"), Some(at("2026-11-25T10:00:00Z")));
        assert_eq!(since("since 2 pm"), Some(at("2026-11-24T14:00:00Z")));
        let e = extract("since yesterday", now());
        assert_eq!((e.since, e.until), (Some(at("2026-11-24T00:00:00Z")), None));
        let e = extract("from 9:30 to 10:00", now());
        assert_eq!(
            (e.since, e.until),
            (
                Some(at("2026-11-25T09:30:00Z")),
                Some(at("2026-11-25T10:00:00Z"))
            )
        );
        let e = extract("pending orders older than an hour", now());
        assert_eq!((e.since, e.until), (None, Some(at("2026-11-25T11:00:00Z"))));
        let e = extract("between 9 and 10", now());
        assert_eq!(
            (e.since, e.until),
            (
                Some(at("2026-11-25T09:00:00Z")),
                Some(at("2026-11-25T10:00:00Z"))
            )
        );
        assert_eq!(
            since("since noon yesterday"),
            Some(at("2026-11-24T12:00:00Z"))
        );
        assert_eq!(since("compared with the previous hour"), None);
        // Words that only look like windows.
        assert_eq!(since("latest orders"), None);
        assert_eq!(since("orders for acme"), None);
        assert_eq!(since("the most recent orders"), None);
    }

    #[test]
    fn services_by_their_breakers_and_other_words() {
        let svc = |q: &str| extract(q, now()).service;
        assert_eq!(svc("the warehouse breaker").as_deref(), Some("inventory"));
        assert_eq!(svc("status of warehouse-api").as_deref(), Some("inventory"));
        assert_eq!(svc("the payment gateway").as_deref(), Some("payment"));
        assert_eq!(svc("the gateway's breaker").as_deref(), Some("payment"));
        assert_eq!(svc("calls to the carrier").as_deref(), Some("shipment"));
        assert_eq!(svc("payments' breaker").as_deref(), Some("payment"));
        assert_eq!(svc("notifications").as_deref(), Some("notification"));
        assert_eq!(
            svc("show failed orders"),
            None,
            "orders are not the order service"
        );
    }

    #[test]
    fn typos_of_the_consoles_words_are_read_as_them() {
        assert_eq!(
            words("dead leters for paymnet"),
            ["dead", "letters", "for", "payment"]
        );
        assert_eq!(words("breakrs orderes"), ["breakers", "orders"]);
        // Short words, names and ids stay as typed.
        assert_eq!(
            words("older acme initech ORD-7"),
            ["older", "acme", "initech", "ord-7"]
        );
        assert_eq!(
            extract("dead leters for paymnet", now()).service.as_deref(),
            Some("payment")
        );
    }

    #[test]
    fn breaker_states_and_negation() {
        let st = |q: &str| {
            let e = extract(q, now());
            (e.breaker_state, e.breaker_not_state)
        };
        let some = |s: &str| Some(s.to_string());
        assert_eq!(st("which breakers are tripped?"), (some("open"), None));
        assert_eq!(st("is anything short-circuiting?"), (some("open"), None));
        assert_eq!(st("are calls short circuited"), (some("open"), None));
        assert_eq!(st("any half open circuits?"), (some("half_open"), None));
        assert_eq!(st("which breakers are not closed?"), (None, some("closed")));
        assert_eq!(st("which breakers aren't closed?"), (None, some("closed")));
        assert_eq!(st("is the breaker still not open?"), (None, some("open")));
        assert_eq!(st("is the breaker closed?"), (some("closed"), None));
        assert_eq!(st("open or half-open breakers"), (None, some("closed")));
        assert_eq!(st("is it half open or closed?"), (None, some("open")));
        assert_eq!(
            st("show breakers except the closed ones"),
            (None, some("closed"))
        );
        assert_eq!(st("which breaker is the problem?"), (some("open"), None));
    }

    #[test]
    fn dead_letter_topics_by_any_convention() {
        let t = |q: &str| {
            let e = extract(q, now());
            (e.topic, e.dead_letter_topic)
        };
        let dl = |s: &str| (Some(s.to_string()), true);
        assert_eq!(
            t("parked in payment.completed.dlq"),
            dl("payment.completed")
        );
        assert_eq!(
            t("what's in inventory.reserved.DLT?"),
            dl("inventory.reserved")
        );
        assert_eq!(t("order.failed-dlt since 9"), dl("order.failed"));
        assert_eq!(
            t("error.shipment.created.shipping-group"),
            dl("shipment.created")
        );
        assert_eq!(t("anything in dlq-jdbc-sink?"), dl("dlq-jdbc-sink"));
        assert_eq!(
            t("latest payment.failed events"),
            (Some("payment.failed".into()), false)
        );
        assert_eq!(t("re-drive the dead-letter queue"), (None, false));
    }

    #[test]
    fn names_statuses_and_correlation_ids() {
        assert_eq!(
            extract("orders placed by acme", now())
                .customer_id
                .as_deref(),
            Some("acme")
        );
        assert_eq!(
            extract("what did Acme order?", now())
                .customer_id
                .as_deref(),
            Some("acme")
        );
        assert_eq!(
            extract("orders for customer initech", now())
                .customer_id
                .as_deref(),
            Some("initech")
        );
        assert_eq!(
            extract("orders from the last hour", now()).customer_id,
            None
        );
        let c = |q: &str| extract(q, now()).customer_id;
        assert_eq!(
            c("globex orders since yesterday").as_deref(),
            Some("globex")
        );
        assert_eq!(c("initech's orders").as_deref(), Some("initech"));
        assert_eq!(c("the customer called contoso").as_deref(), Some("contoso"));
        assert_eq!(c("list orders"), None);
        assert_eq!(c("latest orders"), None);
        assert_eq!(c("show failed orders"), None);
        assert_eq!(extract("orders from payment", now()).customer_id, None);
        assert_eq!(
            extract("which orders are compensating?", now())
                .order_status
                .as_deref(),
            Some("compensating")
        );
        let e = extract("order with correlation id SAGA-ORD-77", now());
        assert_eq!(e.correlation_id.as_deref(), Some("SAGA-ORD-77"));
        assert_eq!(
            e.order_id, None,
            "a correlation id holding an order id is not the order"
        );
        let e = extract("correlation id 7d3c9a10-55aa-4c1e-9d7e-3b2f1a0c9e88", now());
        assert!(e.correlation_id.is_some() && e.event_id.is_none());
    }
}
