//! The offline router's rules: what a question names — order ids, customers, event ids,
//! topics, services, statuses, errors and time windows. Pure functions of the text and the
//! current time, so the evaluation set pins them down exactly.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};

/// Everything the rules found in one question.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entities {
    pub order_id: Option<String>,
    pub customer_id: Option<String>,
    pub event_id: Option<String>,
    /// An exact topic named, e.g. `payment.completed`.
    pub topic: Option<String>,
    /// A service named: order, inventory, payment, shipment, notification.
    pub service: Option<String>,
    /// An order status named (failed, cancelled, completed, ...).
    pub order_status: Option<String>,
    /// A dead-letter status named (parked, replayed, discarded, ...).
    pub dl_status: Option<String>,
    /// A breaker state named (open, closed, half_open).
    pub breaker_state: Option<String>,
    /// An error text named ("timeout", or anything in quotes).
    pub error: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

pub const SERVICES: [&str; 5] = ["order", "inventory", "payment", "shipment", "notification"];

/// The question in lower case, with its words (letters, digits, `-`, `_`, `.`, `:`).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || "-_.:'".contains(c)))
        .map(|w| w.trim_matches(|c: char| ".:'-".contains(c)).to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

fn ident_after(text: &str, prefix: &str) -> Option<String> {
    let lower = text.to_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(prefix) {
        let start = from + i;
        let before_ok = start == 0
            || !text[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric());
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

fn topic_in(w: &[String]) -> Option<String> {
    let topics = switchyard_contract::event_types();
    let all: Vec<&str> = topics.collect();
    w.iter()
        .map(|x| x.trim_end_matches(".dlq"))
        .find(|x| all.contains(x))
        .map(str::to_string)
}

fn service_in(w: &[String]) -> Option<String> {
    for x in w {
        let s = match x.as_str() {
            "inventory" | "warehouse" | "warehouse-api" | "stock" => "inventory",
            "payment" | "payments" | "payment-gateway" | "gateway" | "billing" => "payment",
            "shipment" | "shipments" | "shipping" | "carrier" | "carrier-api" => "shipment",
            "notification" | "notifications" | "notifier" | "email" | "emails" => "notification",
            _ => continue,
        };
        return Some(s.to_string());
    }
    None
}

fn order_status_in(w: &[String]) -> Option<String> {
    for x in w {
        let s = match x.as_str() {
            "failed" => "failed",
            "cancelled" | "canceled" => "cancelled",
            "completed" | "complete" => "completed",
            "pending" => "pending",
            "confirmed" => "confirmed",
            "created" | "new" => "created",
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
            "discarded" => "discarded",
            "pending" | "unreplayed" | "unhandled" => "pending",
            "failed_again" => "failed_again",
            _ => continue,
        };
        return Some(s.to_string());
    }
    None
}

fn breaker_state_in(text: &str, w: &[String]) -> Option<String> {
    let t = text.to_lowercase();
    if t.contains("half-open") || t.contains("half open") || t.contains("half_open") {
        return Some("half_open".into());
    }
    for x in w {
        let s = match x.as_str() {
            "open" | "tripped" => "open",
            "closed" => "closed",
            _ => continue,
        };
        return Some(s.to_string());
    }
    None
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
            "timeout" | "timeouts" | "timed" => "timeout",
            "declined" | "decline" => "declined",
            "poison" => "poison",
            "deserialization" | "deserialisation" => "deserializ",
            _ => continue,
        };
        return Some(s.to_string());
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

fn clock(w: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let w = w.trim_end_matches("utc").trim_end_matches('z');
    let t = NaiveTime::parse_from_str(w, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(w, "%H:%M:%S"))
        .ok()?;
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

/// A time window named in the question, relative to `now` (clock times are UTC).
pub fn window(w: &[String], now: DateTime<Utc>) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let mut since = None;
    let mut until = None;
    for (i, x) in w.iter().enumerate() {
        let next = w.get(i + 1).map(String::as_str);
        let next2 = w.get(i + 2).map(String::as_str);
        match x.as_str() {
            "last" | "past" | "previous" | "recent" => {
                // "last hour", "last 30 minutes", "past 2h", "last 15 min"
                if let Some(d) = next.and_then(unit) {
                    since = Some(now - d);
                } else if let Some(n) = next.and_then(|n| n.parse::<i64>().ok()) {
                    if let Some(d) = next2.and_then(unit) {
                        since = Some(now - d * n as i32);
                    }
                } else if let Some((n, u)) = next.and_then(split_num_unit) {
                    since = Some(now - u * n as i32);
                }
            }
            "since" | "after" | "from" => match next {
                Some("yesterday") => since = Some(midnight(now) - Duration::days(1)),
                Some("midnight") | Some("today") => since = Some(midnight(now)),
                Some(t) => {
                    if let Some(c) = clock(t, now) {
                        since = Some(c)
                    }
                }
                None => {}
            },
            "between" => {
                if let (Some(a), Some(b)) = (next.and_then(|t| clock(t, now)), w.get(i + 3)) {
                    since = Some(a);
                    if let Some(b) = clock(b, now) {
                        until = Some(if b < a { b + Duration::days(1) } else { b });
                    }
                }
            }
            "before" | "until" if until.is_none() => {
                if let Some(c) = next.and_then(|t| clock(t, now)) {
                    until = Some(c)
                }
            }
            "today" if since.is_none() => since = Some(midnight(now)),
            "yesterday" if since.is_none() => {
                since = Some(midnight(now) - Duration::days(1));
                until = Some(midnight(now));
            }
            "hour" if since.is_none() && i > 0 && (w[i - 1] == "an" || w[i - 1] == "the") => {
                // "in the hour", "within an hour"
                since = Some(now - Duration::hours(1));
            }
            _ => {}
        }
    }
    (since, until)
}

/// "30m", "2h", "15min" → (30, minute), ...
fn split_num_unit(w: &str) -> Option<(i64, Duration)> {
    let i = w.find(|c: char| !c.is_ascii_digit())?;
    let n = w[..i].parse().ok()?;
    Some((n, unit(&w[i..])?))
}

/// Everything the rules can tell from `text`.
pub fn extract(text: &str, now: DateTime<Utc>) -> Entities {
    let w = words(text);
    let (since, until) = window(&w, now);
    Entities {
        order_id: ident_after(text, "ord-"),
        customer_id: ident_after(text, "cust-"),
        event_id: uuid_in(text).or_else(|| event_number(&w)),
        topic: topic_in(&w),
        service: service_in(&w),
        order_status: order_status_in(&w),
        dl_status: dl_status_in(&w),
        breaker_state: breaker_state_in(text, &w),
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
}
