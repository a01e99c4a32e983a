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

/// `2026-11-25T10:37:30Z` → `10:37:30` (`10:37` on the minute); other text as it is.
pub fn clock(t: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(t) {
        Ok(d) if d.format("%S").to_string() == "00" => d.format("%H:%M").to_string(),
        Ok(d) => d.format("%H:%M:%S").to_string(),
        Err(_) => t.to_string(),
    }
}

/// "45 s", "3 min 20 s", "2 h 5 min".
pub fn duration(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 if secs % 60 == 0 => format!("{} min", secs / 60),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ if secs % 3600 / 60 == 0 => format!("{} h", secs / 3600),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

fn window(args: &Value) -> String {
    match (args["since"].as_str(), args["until"].as_str()) {
        (Some(a), Some(b)) => format!(" between {} and {}", clock(a), clock(b)),
        (Some(a), None) => format!(" since {}", clock(a)),
        (None, Some(b)) => format!(" before {}", clock(b)),
        (None, None) => String::new(),
    }
}

/// An answer: a summary an operator reads at a glance, then details (one per line, `- `),
/// which the sidebar shows collapsed. Separated by a blank line.
fn compose(summary: String, details: Vec<String>) -> String {
    let details: Vec<String> = details.into_iter().filter(|d| !d.is_empty()).collect();
    if details.is_empty() {
        return summary;
    }
    let lines: Vec<String> = details.into_iter().map(|d| format!("- {d}")).collect();
    format!("{summary}\n\n{}", lines.join("\n"))
}

/// Up to `max` items joined, with "and N more".
fn list(items: &[String], max: usize) -> String {
    let mut out = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        out.push_str(&format!(" and {} more", items.len() - max));
    }
    out
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
        tools::KPIS => kpis(out),
        tools::INCIDENT_SUMMARY => incident_summary(out),
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
    let mut details = Vec::new();
    let steps = arr(o, "saga_steps");
    let failed: Vec<&Value> = steps.iter().filter(|x| x["status"] == "failed").collect();
    if let Some(f) = failed.last() {
        details.push(format!(
            "The {} step failed at {} (attempt {}): \"{}\".",
            s(f, "step"),
            clock(&s(f, "at")),
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
        details.push(format!("Compensated: {}.", comp.join(", ")));
    }
    if !steps.is_empty() {
        let line: Vec<String> = steps
            .iter()
            .map(|x| format!("{} {} {}", s(x, "step"), s(x, "action"), s(x, "status")))
            .collect();
        details.push(format!("Saga timeline: {}.", line.join(" → ")));
    }
    let dls = arr(o, "dead_letters");
    if let Some(last) = dls.last() {
        details.push(format!(
            "{} for this order (latest on {}: \"{}\", {}).",
            plural(dls.len() as i64, "dead letter", "dead letters"),
            s(last, "original_topic"),
            s(last, "error"),
            s(last, "status")
        ));
    }
    compose(out, details)
}

fn search_orders(args: &Value, o: &Value) -> String {
    let rows = arr(o, "orders");
    let what = match args["status"].as_str() {
        Some(st) => format!("{st} orders"),
        None => "orders".to_string(),
    };
    let mut whose = args["customer_id"]
        .as_str()
        .map(|c| format!(" of {c}"))
        .unwrap_or_default();
    if let Some(c) = args["correlation_id"].as_str() {
        whose.push_str(&format!(" with correlation id {c}"));
    }
    if rows.is_empty() {
        return format!("No {what}{whose}{}.", window(args));
    }
    let ids: Vec<String> = rows.iter().map(|r| s(r, "order_id")).collect();
    let more = if rows.len() as i64 >= n(o, "limit") {
        " (the most recent; there may be more)"
    } else {
        ""
    };
    let details = rows
        .iter()
        .map(|r| {
            let reason = s(r, "failure_reason");
            let at = clock(&s(r, "updated_at"));
            if reason.is_empty() {
                format!("{} {} at {at}", s(r, "order_id"), s(r, "status"))
            } else {
                format!("{} {} at {at}: {reason}", s(r, "order_id"), s(r, "status"))
            }
        })
        .collect();
    compose(
        format!(
            "{} {what}{whose}{}{more}: {}.",
            rows.len(),
            window(args),
            list(&ids, 5)
        ),
        details,
    )
}

fn recent_failures(o: &Value) -> String {
    let orders = arr(o, "failed_orders");
    let steps = arr(o, "failed_steps");
    let since = clock(&s(o, "since"));
    let mut details = Vec::new();
    for x in steps.iter().take(8) {
        details.push(format!(
            "{} × {} failed: \"{}\" (last at {})",
            n(x, "count"),
            s(x, "step"),
            s(x, "error"),
            clock(&s(x, "last_at"))
        ));
    }
    for x in orders.iter().take(10) {
        details.push(format!(
            "{} {} at {}: {}",
            s(x, "order_id"),
            s(x, "status"),
            clock(&s(x, "at")),
            s(x, "failure_reason")
        ));
    }
    let mut extra = String::new();
    if let Some(service) = o.get("service").and_then(Value::as_str) {
        let transitions = arr(o, "breaker_transitions");
        if !transitions.is_empty() {
            let opened = transitions.iter().filter(|t| t["to"] == "open").count() as i64;
            extra.push_str(&format!(
                " The {service} breaker changed state {} (opened {}).",
                plural(transitions.len() as i64, "time", "times"),
                plural(opened, "time", "times")
            ));
        }
        let dead = arr(o, "dead_letters");
        if !dead.is_empty() {
            let total: i64 = dead.iter().map(|d| n(d, "count")).sum();
            let pending: i64 = dead.iter().map(|d| n(d, "pending")).sum();
            extra.push_str(&format!(
                " {} dead-lettered ({pending} waiting).",
                plural(total, "message", "messages")
            ));
            for d in dead.iter().take(3) {
                details.push(format!(
                    "{} dead letters from {}: \"{}\"",
                    n(d, "count"),
                    s(d, "original_topic"),
                    s(d, "error")
                ));
            }
        }
    }
    if orders.is_empty() && steps.is_empty() {
        return compose(format!("Nothing failed since {since}.{extra}"), details);
    }
    let count = if orders.len() >= 20 {
        "20 or more orders".to_string()
    } else {
        plural(orders.len() as i64, "order", "orders")
    };
    let mut out = format!("Since {since}: {count} failed or cancelled.");
    if let Some(top) = steps.first() {
        out.push_str(&format!(
            " Top cause: {} × {} (\"{}\").",
            n(top, "count"),
            s(top, "step"),
            s(top, "error")
        ));
    }
    out.push_str(&extra);
    compose(out, details)
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
            let mut v: Vec<(&String, i64)> = m
                .iter()
                .map(|(t, c)| (t, c.as_i64().unwrap_or(0)))
                .collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            v.into_iter().map(|(t, c)| format!("{t} {c}")).collect()
        })
        .unwrap_or_default();
    let details = arr(o, "groups")
        .iter()
        .take(8)
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
    compose(
        format!(
            "{}{scope}: {}.",
            plural(total, "dead letter", "dead letters"),
            list(&by_topic, 4)
        ),
        details,
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
    let which = match (args["state"].as_str(), args["not_state"].as_str()) {
        (Some(st), _) => format!(" {}", st.replace('_', "-")),
        (None, Some(st)) => format!(" not-{}", st.replace('_', "-")),
        _ => String::new(),
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
    let line = |b: &Value| {
        let rate = b["failure_rate"]
            .as_f64()
            .map(|r| format!(", failure rate {r:.0}%"))
            .unwrap_or_default();
        format!(
            "{}/{} is {} since {}{rate}",
            s(b, "service"),
            s(b, "breaker"),
            s(b, "state").replace('_', "-"),
            clock(&s(b, "since"))
        )
    };
    // Not closed first: that is what an operator looks for.
    let mut sorted: Vec<&Value> = rows.iter().collect();
    sorted.sort_by_key(|b| b["state"] == "closed");
    let not_closed = sorted.iter().filter(|b| b["state"] != "closed").count();
    if rows.len() <= 2 {
        let l: Vec<String> = sorted.iter().map(|b| line(b)).collect();
        let head = if not_closed == 0 && which.is_empty() && rows.len() > 1 {
            "all closed; ".to_string()
        } else {
            String::new()
        };
        return format!(
            "{}{which}: {head}{}.",
            plural(rows.len() as i64, "breaker", "breakers"),
            l.join("; ")
        );
    }
    let summary = if which.is_empty() {
        let bad: Vec<String> = sorted
            .iter()
            .filter(|b| b["state"] != "closed")
            .map(|b| {
                format!(
                    "{}/{} {}",
                    s(b, "service"),
                    s(b, "breaker"),
                    s(b, "state").replace('_', "-")
                )
            })
            .collect();
        if bad.is_empty() {
            format!("All {} breakers are closed.", rows.len())
        } else {
            format!(
                "{} of {} breakers not closed: {}.",
                bad.len(),
                rows.len(),
                bad.join(", ")
            )
        }
    } else {
        format!(
            "{}{which}: {}.",
            plural(rows.len() as i64, "breaker", "breakers"),
            line(sorted[0])
        )
    };
    compose(summary, sorted.iter().map(|b| line(b)).collect())
}

fn breaker_history(o: &Value) -> String {
    let rows = arr(o, "transitions");
    let since = clock(&s(o, "since"));
    if rows.is_empty() {
        return format!("No breaker transitions since {since}.");
    }
    let mut per: Vec<(String, i64, i64)> = Vec::new();
    for t in rows {
        let name = format!("{}/{}", s(t, "service"), s(t, "breaker"));
        let opened = i64::from(t["to"] == "open");
        match per.iter_mut().find(|x| x.0 == name) {
            Some(x) => {
                x.1 += 1;
                x.2 += opened;
            }
            None => per.push((name, 1, opened)),
        }
    }
    let who: Vec<String> = per
        .iter()
        .map(|(b, _, opened)| format!("{b} opened {}", plural(*opened, "time", "times")))
        .collect();
    let latest = &rows[0];
    let details = rows
        .iter()
        .take(12)
        .map(|t| {
            format!(
                "{} {}/{} {} → {}",
                clock(&s(t, "at")),
                s(t, "service"),
                s(t, "breaker"),
                s(t, "from"),
                s(t, "to")
            )
        })
        .collect();
    compose(
        format!(
            "{} since {since}: {}. Latest at {}: {} → {}.",
            plural(rows.len() as i64, "transition", "transitions"),
            who.join("; "),
            clock(&s(latest, "at")),
            s(latest, "from"),
            s(latest, "to")
        ),
        details,
    )
}

fn event_lookup(o: &Value) -> String {
    let rows = arr(o, "events");
    if rows.is_empty() {
        return "No matching events.".into();
    }
    let first = &rows[0];
    let details = rows
        .iter()
        .take(10)
        .map(|e| {
            format!(
                "{} {} of {} at {}",
                clock(&s(e, "occurred_at")),
                s(e, "event_type"),
                s(e, "order_id"),
                s(e, "position")
            )
        })
        .collect();
    compose(
        format!(
            "{} (newest first); latest: {} of {} at {}.",
            plural(rows.len() as i64, "event", "events"),
            s(first, "event_type"),
            s(first, "order_id"),
            clock(&s(first, "occurred_at"))
        ),
        details,
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

fn ms(v: &Value) -> Option<String> {
    let x = v.as_f64()?;
    Some(if x >= 1000.0 {
        format!("{:.1} s", x / 1000.0)
    } else {
        format!("{x:.0} ms")
    })
}

fn kpis(o: &Value) -> String {
    let k = &o["kpis"];
    let p = &o["previous"];
    let mins = n(o, "minutes");
    let rate = |v: &Value| v["completion_rate"].as_f64();
    let verdict = match (rate(k), rate(p)) {
        (None, _) => "No order finished".to_string(),
        (Some(r), Some(b)) if r + 5.0 < b => format!("Completion is down: {r:.1} % (was {b:.1} %)"),
        (Some(r), _) if r < 90.0 => format!("Completion is low: {r:.1} %"),
        (Some(r), _) => format!("Orders are completing normally: {r:.1} %"),
    };
    let mut summary = format!(
        "{verdict}; {} orders/min over the last {} (previous {}: {}/min).",
        k["orders_per_min"].as_f64().unwrap_or(0.0),
        duration(mins * 60),
        duration(mins * 60),
        p["orders_per_min"].as_f64().unwrap_or(0.0),
    );
    if let (Some(p50), Some(p95)) = (ms(&k["saga_p50_ms"]), ms(&k["saga_p95_ms"])) {
        summary.push_str(&format!(" Saga p50 {p50}, p95 {p95}."));
    }
    summary.push_str(&format!(
        " {} in; {} of {} breakers open.",
        plural(n(k, "dlq_inflow"), "dead letter", "dead letters"),
        n(k, "open_breakers"),
        n(k, "breakers")
    ));
    let details = vec![
        format!(
            "Window {}–{} UTC; sagas measured: {}",
            clock(&s(o, "since")),
            clock(&s(o, "until")),
            n(k, "sagas_measured")
        ),
        format!(
            "Previous window: completion {}, saga p95 {}, {} dead letters in",
            rate(p).map_or("—".into(), |r| format!("{r:.1} %")),
            ms(&p["saga_p95_ms"]).unwrap_or_else(|| "—".into()),
            n(p, "dlq_inflow")
        ),
        format!(
            "Dead letters not yet replayed or discarded: {}",
            n(k, "dlq_depth")
        ),
    ];
    compose(summary, details)
}

fn incident_summary(o: &Value) -> String {
    let who = o["service"].as_str().unwrap_or("all services").to_string();
    let span = format!("{}–{}", clock(&s(o, "since")), clock(&s(o, "until")));
    let outages = arr(o, "outages");
    let failed = n(o, "failed_orders");
    let waiting = n(o, "dead_letters_waiting");
    let reopened: i64 = outages.iter().map(|x| n(x, "reopened")).sum();
    let range = |x: &Value| {
        let start = if x["started_before"] == Value::Bool(true) {
            format!("before {}", clock(&s(x, "start")))
        } else {
            clock(&s(x, "start"))
        };
        match x["end"].as_str() {
            Some(e) => format!("{start}–{}", clock(e)),
            None => format!("{start}–ongoing"),
        }
    };
    let head = if outages.is_empty() {
        "no outage (no breaker left closed)".to_string()
    } else {
        let ranges: Vec<String> = outages.iter().map(range).collect();
        let mut h = format!(
            "{} ({})",
            plural(outages.len() as i64, "outage", "outages"),
            list(&ranges, 4)
        );
        if reopened > 0 {
            h.push_str(&format!(
                ", the breaker flapped {}",
                plural(reopened, "time", "times")
            ));
        }
        h
    };
    let summary = format!(
        "{who}, {span}: {head}; {} failed; {} waiting.",
        plural(failed, "order", "orders"),
        plural(waiting, "dead letter", "dead letters")
    );
    let mut details: Vec<String> = outages
        .iter()
        .map(|x| {
            format!(
                "{}/{}: {} ({}{}), {} transitions, re-opened {}",
                s(x, "service"),
                s(x, "breaker"),
                range(x),
                duration(n(x, "duration_s")),
                if x["end"].is_null() { " so far" } else { "" },
                n(x, "transitions"),
                plural(n(x, "reopened"), "time", "times")
            )
        })
        .collect();
    for r in arr(o, "failure_reasons") {
        details.push(format!(
            "{} orders failed: {}",
            n(r, "count"),
            s(r, "reason")
        ));
    }
    let ids: Vec<String> = arr(o, "failed_order_ids")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if !ids.is_empty() {
        details.push(format!("Failed orders: {}", list(&ids, 5)));
    }
    for d in arr(o, "dead_letters_by_topic") {
        details.push(format!(
            "{} dead letters waiting on {}",
            n(d, "count"),
            s(d, "topic")
        ));
    }
    compose(summary, details)
}

/// What the router says when it cannot tell which tool a question needs.
pub fn help() -> String {
    "I answer from the read model by rules, so I need a question I recognise. Try: \
     \"why did ORD-1042 fail?\", \"which breakers are open?\", \"how many payment dead \
     letters since 10:00?\", \"what failed in the last hour?\", \"what happened to \
     payments in the last 10 minutes?\", \"what's our order rate today?\", \"show failed \
     orders\", \"events of ORD-1042\", or \"replay the inventory dead letters from the \
     last hour\" (which I can only propose)."
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_incident_reads_in_five_seconds() {
        let out = json!({
            "service": "payment", "since": "2026-11-25T10:30:00Z", "until": "2026-11-25T10:40:00Z",
            "outages": [
                {"service": "payment", "breaker": "payment-gateway", "start": "2026-11-25T10:37:30Z",
                 "end": "2026-11-25T10:38:29Z", "started_before": false, "duration_s": 59,
                 "reopened": 2, "transitions": 9},
                {"service": "payment", "breaker": "payment-gateway", "start": "2026-11-25T10:38:46Z",
                 "end": "2026-11-25T10:39:45Z", "started_before": false, "duration_s": 59,
                 "reopened": 3, "transitions": 11}
            ],
            "transitions": 20, "failed_orders": 20,
            "failed_order_ids": ["ORD-1", "ORD-2", "ORD-3", "ORD-4", "ORD-5", "ORD-6"],
            "failure_reasons": [{"reason": "payment-gateway unavailable", "count": 20}],
            "dead_letters_waiting": 10,
            "dead_letters_by_topic": [{"topic": "payment.completed", "count": 10}]
        });
        let text = answer(tools::INCIDENT_SUMMARY, &json!({}), &out);
        let (summary, details) = text.split_once("\n\n").unwrap();
        assert_eq!(
            summary,
            "payment, 10:30–10:40: 2 outages (10:37:30–10:38:29, 10:38:46–10:39:45), the breaker \
             flapped 5 times; 20 orders failed; 10 dead letters waiting."
        );
        assert!(details.lines().all(|l| l.starts_with("- ")), "{details}");
        assert!(details.contains("ORD-1, ORD-2, ORD-3, ORD-4, ORD-5 and 1 more"));
        assert!(summary.len() < 200, "one glance: {summary}");
    }

    #[test]
    fn kpis_lead_with_the_verdict() {
        let k = |rate: f64| {
            json!({"orders_per_min": 41.5, "completion_rate": rate, "saga_p50_ms": 820.0,
            "saga_p95_ms": 2400.0, "sagas_measured": 100, "dlq_inflow": 3, "dlq_depth": 12,
            "open_breakers": 1, "breakers": 3})
        };
        let out = json!({"since": "2026-11-25T11:45:00Z", "until": "2026-11-25T12:00:00Z",
            "minutes": 15, "kpis": k(96.2), "previous": k(97.0)});
        let text = answer(tools::KPIS, &json!({}), &out);
        assert!(
            text.starts_with(
                "Orders are completing normally: 96.2 %; 41.5 orders/min over the last 15 min"
            ),
            "{text}"
        );
        assert!(text.contains("p95 2.4 s"));
        let out = json!({"since": "x", "until": "y", "minutes": 15, "kpis": k(80.0), "previous": k(97.0)});
        assert!(answer(tools::KPIS, &json!({}), &out)
            .starts_with("Completion is down: 80.0 % (was 97.0 %)"));
    }

    #[test]
    fn durations_and_clocks() {
        assert_eq!(duration(59), "59 s");
        assert_eq!(duration(120), "2 min");
        assert_eq!(duration(200), "3 min 20 s");
        assert_eq!(duration(7500), "2 h 5 min");
        assert_eq!(duration(3600), "1 h");
        assert_eq!(clock("2026-11-25T10:37:30Z"), "10:37:30");
        assert_eq!(clock("2026-11-25T10:37:00Z"), "10:37");
    }
}
