//! The offline router's answers: fixed sentences filled from a tool's result, so what the
//! operator reads is exactly what the read model holds. Text found in the records (an error
//! message, a payload) is quoted as data, never acted upon.

use crate::assistant::tools;
use serde_json::Value;

fn s(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(x) => x.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn n(v: &Value, k: &str) -> i64 {
    v[k].as_i64().unwrap_or(0)
}

fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v[k].as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn window(args: &Value) -> String {
    match (args["since"].as_str(), args["until"].as_str()) {
        (Some(a), Some(b)) => format!(" between {a} and {b}"),
        (Some(a), None) => format!(" since {a}"),
        (None, Some(b)) => format!(" before {b}"),
        (None, None) => String::new(),
    }
}

/// The answer for one tool's result. `args` are the arguments the tool ran with.
pub fn answer(tool: &str, args: &Value, out: &Value) -> String {
    match tool {
        tools::ORDER_STATUS => order_status(out),
        tools::SEARCH_ORDERS => search_orders(args, out),
        tools::RECENT_FAILURES => recent_failures(out),
        tools::DLQ_SUMMARY => dlq_summary(args, out),
        tools::BREAKER_STATES => breaker_states(args, out),
        tools::BREAKER_HISTORY => breaker_history(out),
        tools::EVENT_LOOKUP => event_lookup(out),
        tools::PROPOSE_REPLAY => propose_replay(out),
        _ => String::new(),
    }
}

fn order_status(o: &Value) -> String {
    let id = s(o, "order_id");
    if o["found"] == Value::Bool(false) {
        return format!("I found no order {id} in the read model.");
    }
    let mut out = format!("Order {id} is {}", s(o, "status"));
    let step = s(o, "current_step");
    if !step.is_empty() {
        out.push_str(&format!(" (saga at {step} {})", s(o, "step_status")));
    }
    out.push('.');
    let reason = s(o, "failure_reason");
    if !reason.is_empty() {
        out.push_str(&format!(" Failure reason: \"{reason}\"."));
    }
    let steps = arr(o, "saga_steps");
    let failed: Vec<&Value> = steps.iter().filter(|x| x["status"] == "failed").collect();
    if let Some(f) = failed.last() {
        out.push_str(&format!(
            " The {} step failed at {} (attempt {}): \"{}\".",
            s(f, "step"),
            s(f, "at"),
            s(f, "attempt"),
            s(f, "error")
        ));
    }
    let comp: Vec<String> = steps
        .iter()
        .filter(|x| x["action"] == "compensate")
        .map(|x| format!("{} {}", s(x, "step"), s(x, "status")))
        .collect();
    if !comp.is_empty() {
        out.push_str(&format!(" Compensated: {}.", comp.join(", ")));
    }
    if !steps.is_empty() {
        let line: Vec<String> = steps
            .iter()
            .map(|x| format!("{} {} {}", s(x, "step"), s(x, "action"), s(x, "status")))
            .collect();
        out.push_str(&format!("\nSaga timeline: {}.", line.join(" → ")));
    }
    let dls = arr(o, "dead_letters");
    if !dls.is_empty() {
        out.push_str(&format!(
            "\n{} for this order (latest on {}: \"{}\", {}).",
            plural(dls.len() as i64, "dead letter", "dead letters"),
            s(&dls[dls.len() - 1], "original_topic"),
            s(&dls[dls.len() - 1], "error"),
            s(&dls[dls.len() - 1], "status")
        ));
    }
    out
}

fn search_orders(args: &Value, o: &Value) -> String {
    let rows = arr(o, "orders");
    let what = match args["status"].as_str() {
        Some(st) => format!("{st} orders"),
        None => "orders".to_string(),
    };
    let whose = args["customer_id"]
        .as_str()
        .map(|c| format!(" of {c}"))
        .unwrap_or_default();
    if rows.is_empty() {
        return format!("No {what}{whose}{}.", window(args));
    }
    let list: Vec<String> = rows
        .iter()
        .map(|r| {
            let reason = s(r, "failure_reason");
            if reason.is_empty() {
                format!("{} ({})", s(r, "order_id"), s(r, "status"))
            } else {
                format!("{} ({}: {reason})", s(r, "order_id"), s(r, "status"))
            }
        })
        .collect();
    let more = if rows.len() as i64 >= n(o, "limit") {
        " (the most recent; there may be more)"
    } else {
        ""
    };
    format!(
        "{} {what}{whose}{}{more}: {}.",
        rows.len(),
        window(args),
        list.join(", ")
    )
}

fn recent_failures(o: &Value) -> String {
    let orders = arr(o, "failed_orders");
    let steps = arr(o, "failed_steps");
    let mut extra = String::new();
    if let Some(service) = o.get("service").and_then(Value::as_str) {
        let transitions = arr(o, "breaker_transitions");
        if !transitions.is_empty() {
            let l: Vec<String> = transitions
                .iter()
                .map(|t| format!("{} → {} at {}", s(t, "from"), s(t, "to"), s(t, "at")))
                .collect();
            extra.push_str(&format!(
                " The {service} breakers changed state: {}.",
                l.join(", ")
            ));
        }
        let dead = arr(o, "dead_letters");
        if !dead.is_empty() {
            let total: i64 = dead.iter().map(|d| n(d, "count")).sum();
            let pending: i64 = dead.iter().map(|d| n(d, "pending")).sum();
            let l: Vec<String> = dead
                .iter()
                .take(3)
                .map(|d| {
                    format!(
                        "{} from {} (\"{}\")",
                        n(d, "count"),
                        s(d, "original_topic"),
                        s(d, "error")
                    )
                })
                .collect();
            extra.push_str(&format!(
                " {} in the {service} dead letters ({pending} still pending): {}.",
                plural(total, "message", "messages"),
                l.join("; ")
            ));
        }
    }
    if orders.is_empty() && steps.is_empty() {
        return format!("Nothing failed since {}.{extra}", s(o, "since"));
    }
    let mut out = format!(
        "Since {}: {} failed or cancelled.",
        s(o, "since"),
        plural(orders.len() as i64, "order", "orders")
    );
    if !steps.is_empty() {
        let l: Vec<String> = steps
            .iter()
            .take(5)
            .map(|x| {
                format!(
                    "{} × {} (\"{}\")",
                    n(x, "count"),
                    s(x, "step"),
                    s(x, "error")
                )
            })
            .collect();
        out.push_str(&format!(" Failed saga steps: {}.", l.join("; ")));
    }
    if !orders.is_empty() {
        let l: Vec<String> = orders
            .iter()
            .take(5)
            .map(|x| format!("{} ({})", s(x, "order_id"), s(x, "failure_reason")))
            .collect();
        out.push_str(&format!(" Latest: {}.", l.join(", ")));
    }
    out.push_str(&extra);
    out
}

fn dlq_summary(args: &Value, o: &Value) -> String {
    let total = n(o, "total");
    let scope = describe_scope(args);
    if total == 0 {
        return format!("No dead letters{scope}.");
    }
    let by_topic: Vec<String> = o["by_topic"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(t, c)| format!("{t}: {}", c.as_i64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    let groups: Vec<String> = arr(o, "groups")
        .iter()
        .take(5)
        .map(|g| {
            format!(
                "{} × \"{}\" on {} ({})",
                n(g, "count"),
                s(g, "error"),
                s(g, "topic"),
                s(g, "status")
            )
        })
        .collect();
    format!(
        "{}{scope}. By topic: {}. Top errors: {}.",
        plural(total, "dead letter", "dead letters"),
        by_topic.join(", "),
        groups.join("; ")
    )
}

fn describe_scope(args: &Value) -> String {
    let mut out = String::new();
    if let Some(st) = args["status"].as_str() {
        out.push_str(&format!(" with status {st}"));
    }
    if let Some(t) = args["topic"].as_str() {
        out.push_str(&format!(" from {t}"));
    }
    if let Some(sv) = args["service"].as_str() {
        out.push_str(&format!(" from {sv}.* topics"));
    }
    if let Some(e) = args["error"].as_str() {
        out.push_str(&format!(" with errors containing \"{e}\""));
    }
    if let Some(k) = args["key"].as_str() {
        out.push_str(&format!(" for {k}"));
    }
    out.push_str(&window(args));
    out
}

fn breaker_states(args: &Value, o: &Value) -> String {
    let rows = arr(o, "breakers");
    let which = match args["state"].as_str() {
        Some(st) => format!(" {}", st.replace('_', "-")),
        None => String::new(),
    };
    if rows.is_empty() {
        return format!(
            "No{which} circuit breakers{}.",
            args["service"]
                .as_str()
                .map(|x| format!(" for {x}"))
                .unwrap_or_default()
        );
    }
    let l: Vec<String> = rows
        .iter()
        .map(|b| {
            let rate = b["failure_rate"]
                .as_f64()
                .map(|r| format!(", failure rate {r:.0}%"))
                .unwrap_or_default();
            format!(
                "{}/{} is {} since {}{rate}",
                s(b, "service"),
                s(b, "breaker"),
                s(b, "state").replace('_', "-"),
                s(b, "since")
            )
        })
        .collect();
    format!(
        "{}{which}: {}.",
        plural(rows.len() as i64, "breaker", "breakers"),
        l.join("; ")
    )
}

fn breaker_history(o: &Value) -> String {
    let rows = arr(o, "transitions");
    if rows.is_empty() {
        return format!("No breaker transitions since {}.", s(o, "since"));
    }
    let l: Vec<String> = rows
        .iter()
        .take(10)
        .map(|t| {
            format!(
                "{} {}/{} {} → {}",
                s(t, "at"),
                s(t, "service"),
                s(t, "breaker"),
                s(t, "from"),
                s(t, "to")
            )
        })
        .collect();
    format!(
        "{} since {} (newest first): {}.",
        plural(rows.len() as i64, "transition", "transitions"),
        s(o, "since"),
        l.join("; ")
    )
}

fn event_lookup(o: &Value) -> String {
    let rows = arr(o, "events");
    if rows.is_empty() {
        return "No matching events.".into();
    }
    let l: Vec<String> = rows
        .iter()
        .take(10)
        .map(|e| {
            format!(
                "{} {} of {} at {}",
                s(e, "occurred_at"),
                s(e, "event_type"),
                s(e, "order_id"),
                s(e, "position")
            )
        })
        .collect();
    format!(
        "{} (newest first): {}.",
        plural(rows.len() as i64, "event", "events"),
        l.join("; ")
    )
}

fn propose_replay(o: &Value) -> String {
    let total = n(o, "total");
    if total == 0 {
        return "No dead letters match, so there is nothing to replay. Nothing was run.".into();
    }
    let per: Vec<String> = arr(o, "proposals")
        .iter()
        .map(|p| format!("{} to {}", n(p, "total"), s(&p["filter"], "topic")))
        .collect();
    format!(
        "Proposed, not run: replay {} ({}). Review the card and confirm it if you want it run.",
        plural(total, "dead letter", "dead letters"),
        per.join(", ")
    )
}

/// What the router says when it cannot tell which tool a question needs.
pub fn help() -> String {
    "I answer from the read model by rules, so I need a question I recognise. Try: \
     \"why did ORD-1042 fail?\", \"which breakers are open?\", \"how many payment dead \
     letters since 10:00?\", \"what failed in the last hour?\", \"show failed orders\", \
     \"events of ORD-1042\", or \"replay the inventory dead letters from the last hour\" \
     (which I can only propose)."
        .into()
}
