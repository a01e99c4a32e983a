//! Which tool a question asks for, and with which arguments: keyword rules first, sentence
//! embeddings (when the model is installed) for the questions the rules are unsure of.
//! Deterministic: the same question at the same time always routes the same way.

use super::rules::{self, Entities};
use crate::assistant::tools;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// Example questions per tool: the embedding side of the router compares a question with
/// these. Keep a few phrasings per tool, not the evaluation set's questions.
pub const PROTOTYPES: &[(&str, &str)] = &[
    (tools::ORDER_STATUS, "why did this order fail"),
    (tools::ORDER_STATUS, "what is the status of the order"),
    (tools::ORDER_STATUS, "show the saga timeline of the order"),
    (tools::ORDER_STATUS, "where is my order stuck"),
    (tools::SEARCH_ORDERS, "list the latest orders"),
    (tools::SEARCH_ORDERS, "find orders of a customer"),
    (tools::SEARCH_ORDERS, "show cancelled orders"),
    (tools::SEARCH_ORDERS, "how many orders were completed"),
    (tools::RECENT_FAILURES, "what failed recently"),
    (tools::RECENT_FAILURES, "why are orders failing"),
    (tools::RECENT_FAILURES, "which saga steps are erroring"),
    (tools::RECENT_FAILURES, "anything going wrong right now"),
    (
        tools::RECENT_FAILURES,
        "what happened to the payment service",
    ),
    (tools::DLQ_SUMMARY, "how many dead letters are there"),
    (
        tools::DLQ_SUMMARY,
        "summarise the dead letter queue by topic and error",
    ),
    (tools::DLQ_SUMMARY, "what is piling up in the dlq"),
    (tools::DLQ_SUMMARY, "messages that could not be processed"),
    (
        tools::DLQ_SUMMARY,
        "undelivered messages waiting in the queue",
    ),
    (tools::BREAKER_STATES, "which circuit breakers are open"),
    (tools::BREAKER_STATES, "is the payment gateway healthy"),
    (
        tools::BREAKER_STATES,
        "are any dependencies rejecting calls",
    ),
    (tools::BREAKER_HISTORY, "when did the breaker open"),
    (
        tools::BREAKER_HISTORY,
        "history of circuit breaker transitions",
    ),
    (tools::BREAKER_HISTORY, "has the breaker been flapping"),
    (tools::EVENT_LOOKUP, "show the events of the order"),
    (tools::EVENT_LOOKUP, "look up this event id"),
    (tools::EVENT_LOOKUP, "latest payment failed events"),
    (tools::PROPOSE_REPLAY, "replay the dead letters"),
    (
        tools::PROPOSE_REPLAY,
        "resend the failed messages to their topic",
    ),
    (tools::PROPOSE_REPLAY, "reprocess the dlq"),
];

/// A routing decision: tool and arguments, or none (the router then explains itself).
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub tool: Option<&'static str>,
    pub args: Value,
    /// How sure the router is (keyword score, plus embedding similarity when used).
    pub score: f32,
    /// Whether the embedding model took part in the decision.
    pub used_embeddings: bool,
}

fn idx(tool: &str) -> usize {
    tools::ALL
        .iter()
        .position(|t| *t == tool)
        .expect("known tool")
}

/// Keyword evidence for each tool, in the order of [`tools::ALL`].
pub fn keyword_scores(text: &str, e: &Entities) -> [f32; 8] {
    let t = text.to_lowercase();
    let w = rules::words(text);
    let has = |x: &str| w.iter().any(|y| y == x);
    let any = |xs: &[&str]| xs.iter().any(|x| has(x));
    let mut s = [0f32; 8];
    let dead = t.contains("dead letter")
        || t.contains("dead-letter")
        || any(&[
            "dlq",
            "dlqs",
            "deadletters",
            "dead_letters",
            "poison",
            "unprocessable",
        ]);
    let replay_verb = any(&[
        "replay",
        "resend",
        "re-send",
        "redrive",
        "re-drive",
        "reprocess",
        "re-process",
        "requeue",
        "re-queue",
        "redeliver",
        "re-deliver",
        "rerun",
        "re-run",
        "retry",
    ]) && !t.contains("how many");
    // In this console a "trip" is a breaker's.
    let breaker = any(&[
        "breaker",
        "breakers",
        "circuit",
        "circuits",
        "circuit-breaker",
        "trip",
        "tripped",
        "trips",
    ]);
    let history = any(&[
        "history",
        "transitions",
        "transition",
        "flapping",
        "flapped",
        "changed",
        "changes",
        "tripped",
        "opened",
        "when",
        "timeline",
        "often",
        "times",
    ]);
    let eventish = any(&["event", "events"]);
    let failure = any(&[
        "failing",
        "failures",
        "failure",
        "errors",
        "erroring",
        "wrong",
        "broken",
        "broke",
        "compensated",
        "compensation",
        "compensations",
        "problems",
        "issues",
        "incidents",
        "failed",
    ]);

    if replay_verb {
        s[idx(tools::PROPOSE_REPLAY)] += 3.0;
        if dead || e.topic.is_some() || e.service.is_some() {
            s[idx(tools::PROPOSE_REPLAY)] += 1.0;
        }
    }
    if e.order_id.is_some() {
        s[idx(tools::ORDER_STATUS)] += 2.0;
        if eventish {
            s[idx(tools::EVENT_LOOKUP)] += 3.0;
        }
    }
    if e.event_id.is_some() {
        s[idx(tools::EVENT_LOOKUP)] += 3.0;
    }
    if eventish {
        s[idx(tools::EVENT_LOOKUP)] += 1.5;
        if e.topic.is_some() {
            s[idx(tools::EVENT_LOOKUP)] += 1.5;
        }
    }
    let health = any(&[
        "healthy",
        "health",
        "unhealthy",
        "degraded",
        "down",
        "rejecting",
        "unavailable",
    ]);
    if health && (e.service.is_some() || any(&["dependency", "dependencies"])) {
        s[idx(tools::BREAKER_STATES)] += 1.5;
    }
    if breaker {
        s[idx(tools::BREAKER_STATES)] += 2.0;
        if history {
            s[idx(tools::BREAKER_HISTORY)] += 3.0;
        }
    }
    if dead {
        s[idx(tools::DLQ_SUMMARY)] += 2.5;
    }
    if failure && e.order_id.is_none() && !dead && !breaker {
        s[idx(tools::RECENT_FAILURES)] += 1.5;
        if any(&[
            "why", "what", "recent", "recently", "anything", "going", "right",
        ]) {
            s[idx(tools::RECENT_FAILURES)] += 0.5;
        }
    }
    // "What happened to payments?", "what's going on with inventory?": what went wrong
    // for that service lately.
    let happened = any(&["happened", "happening", "happens"])
        || t.contains("going on")
        || t.contains("wrong with");
    if happened && e.service.is_some() && e.order_id.is_none() && !dead && !breaker {
        s[idx(tools::RECENT_FAILURES)] += 2.5;
    }
    if any(&["orders", "order"]) && e.order_id.is_none() {
        s[idx(tools::SEARCH_ORDERS)] += 1.0;
        if any(&[
            "list", "show", "find", "search", "which", "latest", "newest", "last", "recent",
            "customer", "many", "placed",
        ]) {
            s[idx(tools::SEARCH_ORDERS)] += 0.5;
        }
        if e.order_status.is_some() && has("orders") {
            // "failed orders", "orders that failed": a list filtered by status.
            s[idx(tools::SEARCH_ORDERS)] += 2.0;
        } else if e.order_status.is_some() {
            s[idx(tools::SEARCH_ORDERS)] += 1.0;
        }
    }
    if e.customer_id.is_some() {
        s[idx(tools::SEARCH_ORDERS)] += 2.5;
    }
    s
}

fn put(m: &mut Map<String, Value>, k: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.insert(k.to_string(), json!(v));
    }
}

fn put_time(m: &mut Map<String, Value>, e: &Entities) {
    if let Some(s) = e.since {
        m.insert("since".into(), json!(crate::assistant::ts(s)));
    }
    if let Some(u) = e.until {
        m.insert("until".into(), json!(crate::assistant::ts(u)));
    }
}

/// The arguments `tool` takes from what the rules found.
pub fn arguments(tool: &str, e: &Entities) -> Value {
    let mut m = Map::new();
    match tool {
        tools::ORDER_STATUS => put(&mut m, "order_id", &e.order_id),
        tools::SEARCH_ORDERS => {
            put(&mut m, "status", &e.order_status);
            put(&mut m, "customer_id", &e.customer_id);
            put_time(&mut m, e);
        }
        tools::RECENT_FAILURES => {
            put(&mut m, "service", &e.service);
            put_time(&mut m, e);
        }
        tools::DLQ_SUMMARY | tools::PROPOSE_REPLAY => {
            if e.topic.is_some() {
                put(&mut m, "topic", &e.topic);
            } else {
                put(&mut m, "service", &e.service);
            }
            put(&mut m, "error", &e.error);
            put(&mut m, "status", &e.dl_status);
            put(&mut m, "key", &e.order_id);
            put_time(&mut m, e);
        }
        tools::BREAKER_STATES => {
            put(&mut m, "service", &e.service);
            put(&mut m, "state", &e.breaker_state);
        }
        tools::BREAKER_HISTORY => {
            put(&mut m, "service", &e.service);
            put_time(&mut m, e);
        }
        tools::EVENT_LOOKUP => {
            put(&mut m, "event_id", &e.event_id);
            put(&mut m, "order_id", &e.order_id);
            put(&mut m, "event_type", &e.topic);
            put_time(&mut m, e);
        }
        _ => {}
    }
    Value::Object(m)
}

/// Keyword scores this confident, and this far ahead of the runner-up, decide alone.
const SURE: f32 = 2.0;
const MARGIN: f32 = 1.0;
/// Weight of the embedding similarity (cosine, 0..1) against keyword scores.
const EMBED_WEIGHT: f32 = 3.0;
/// Below this, the router does not guess.
const FLOOR: f32 = 1.2;

/// Routes `text`. `similarity`, when the model is installed, gives each tool's best
/// cosine similarity to its prototypes; it is only called (the question only embedded)
/// when the keyword rules are not sure.
pub fn route(
    text: &str,
    now: DateTime<Utc>,
    similarity: impl FnOnce() -> Option<[f32; 8]>,
    context_order: Option<&str>,
) -> Route {
    let mut e = rules::extract(text, now);
    let mut kw = keyword_scores(text, &e);
    if e.order_id.is_none() && context_order.is_some() && refers_back(text) {
        kw[idx(tools::ORDER_STATUS)] += 2.5;
    }
    let (best, second) = top2(&kw);
    let (scores, used) = if kw[best] >= SURE && kw[best] - kw[second] >= MARGIN {
        (kw, false)
    } else if let Some(sim) = similarity() {
        let mut c = kw;
        for (i, x) in c.iter_mut().enumerate() {
            *x += EMBED_WEIGHT * sim[i].max(0.0);
        }
        (c, true)
    } else {
        (kw, false)
    };
    let (best, _) = top2(&scores);
    let floor = if used {
        FLOOR + EMBED_WEIGHT * 0.35
    } else {
        FLOOR
    };
    if scores[best] < floor {
        return Route {
            tool: None,
            args: json!({}),
            score: scores[best],
            used_embeddings: used,
        };
    }
    let tool = tools::ALL[best];
    if tool == tools::ORDER_STATUS && e.order_id.is_none() {
        // A follow-up ("and its timeline?"): the order the conversation was about.
        e.order_id = context_order.map(str::to_string);
        if e.order_id.is_none() {
            return Route {
                tool: None,
                args: json!({}),
                score: scores[best],
                used_embeddings: used,
            };
        }
    }
    Route {
        tool: Some(tool),
        args: arguments(tool, &e),
        score: scores[best],
        used_embeddings: used,
    }
}

/// Whether a question points back at what the conversation was about ("why did it fail?").
fn refers_back(text: &str) -> bool {
    let w = rules::words(text);
    w.iter()
        .any(|x| matches!(x.as_str(), "it" | "its" | "it's" | "this" | "that" | "same"))
}

fn top2(s: &[f32; 8]) -> (usize, usize) {
    let mut order: Vec<usize> = (0..s.len()).collect();
    order.sort_by(|a, b| s[*b].total_cmp(&s[*a]).then(a.cmp(b)));
    (order[0], order[1])
}
