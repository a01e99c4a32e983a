//! Which topics a console reads, and which of them hold dead letters — by name or by
//! pattern, the way a team's cluster names them.
//!
//! A selection is a list of entries, each an exact topic name or, when it starts with `^`,
//! a regular expression over the whole name (librdkafka's convention for pattern
//! subscriptions, so the same list is handed to the consumer as it is). The defaults
//! read the fleet's contract topics and every ecosystem's dead-letter naming convention:
//!
//! | ecosystem | dead-letter topic |
//! |---|---|
//! | Switchyard's fleet | `<topic>.dlq` |
//! | Spring Kafka | `<topic>.DLT`, `<topic>-dlt` (retry topics) |
//! | Spring Cloud Stream | `error.<destination>.<group>` |
//! | SmallRye Reactive Messaging | `dead-letter-topic-<topic>` |
//! | Kafka Connect | `errors.deadletterqueue.topic.name`, often `dlq-<connector>` |
//! | Kafka Streams, others | `<topic>-dlq`, `<topic>_dlq`, … |
//!
//! A record whose headers name an original topic in a known dialect is a dead letter on
//! any topic; the names here matter when there are no such headers.

use regex::Regex;

/// The default dead-letter patterns (see the module doc). Written in the subset of
/// regular-expression syntax librdkafka's matcher and the `regex` crate share.
pub const DEFAULT_DEAD_LETTER_PATTERNS: &[&str] = &[
    r"^.+[._-](dlq|DLQ|dlt|DLT)$",
    r"^error\..+\..+$",
    r"^dead-letter-topic-.+$",
    r"^(dlq|DLQ)[._-].+$",
];

/// A list of topic names and `^patterns`.
#[derive(Clone, Debug)]
pub struct TopicSelection {
    entries: Vec<String>,
    names: Vec<String>,
    patterns: Vec<Regex>,
}

impl TopicSelection {
    /// From entries as configured (surrounding spaces and empty entries are ignored).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> anyhow::Result<TopicSelection> {
        let mut sel = TopicSelection {
            entries: Vec::new(),
            names: Vec::new(),
            patterns: Vec::new(),
        };
        for e in entries
            .iter()
            .map(|e| e.as_ref().trim())
            .filter(|e| !e.is_empty())
        {
            if e.starts_with('^') {
                let re = Regex::new(e).map_err(|err| {
                    anyhow::anyhow!("topic pattern {e:?} is not a regular expression: {err}")
                })?;
                sel.patterns.push(re);
            } else {
                if !e
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                {
                    anyhow::bail!(
                        "{e:?} is not a topic name (letters, digits, '.', '_', '-'); start a pattern with '^'"
                    );
                }
                sel.names.push(e.to_string());
            }
            sel.entries.push(e.to_string());
        }
        Ok(sel)
    }

    /// The default dead-letter patterns.
    pub fn default_dead_letters() -> TopicSelection {
        TopicSelection::parse(DEFAULT_DEAD_LETTER_PATTERNS).expect("default patterns compile")
    }

    /// The fleet's contract event topics.
    pub fn contract_events() -> TopicSelection {
        let names: Vec<&str> = crate::topics::event_types().collect();
        TopicSelection::parse(&names).expect("contract topic names")
    }

    pub fn matches(&self, topic: &str) -> bool {
        self.names.iter().any(|n| n == topic) || self.patterns.iter().any(|p| p.is_match(topic))
    }

    /// The entries as configured: what the consumer subscribes to.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries that match `topic` (for the page listing what each pattern matched).
    pub fn matching_entries<'a>(&'a self, topic: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries.iter().map(String::as_str).filter(move |e| {
            if e.starts_with('^') {
                Regex::new(e).is_ok_and(|r| r.is_match(topic))
            } else {
                *e == topic
            }
        })
    }
}

/// Whether a topic is named like a dead-letter topic by any ecosystem's default
/// convention (replays never target one).
pub fn looks_like_dead_letter_topic(topic: &str) -> bool {
    static DEFAULT: std::sync::OnceLock<TopicSelection> = std::sync::OnceLock::new();
    DEFAULT
        .get_or_init(TopicSelection::default_dead_letters)
        .matches(topic)
}

/// The original topic a dead-letter topic's name implies, and the convention that says
/// so — for dead letters that carry no headers naming it. `None` when the name says
/// nothing about it (Kafka Connect's `dlq-<connector>` names a connector, not a topic).
pub fn original_topic_from_name(topic: &str) -> Option<(String, &'static str)> {
    const SUFFIXES: &[(&str, &str)] = &[
        (".dlq", "<topic>.dlq"),
        ("-dlq", "<topic>-dlq"),
        ("_dlq", "<topic>_dlq"),
        (".DLQ", "<topic>.DLQ"),
        ("-DLQ", "<topic>-DLQ"),
        ("_DLQ", "<topic>_DLQ"),
        (".DLT", "Spring Kafka's <topic>.DLT"),
        ("-dlt", "Spring Kafka's <topic>-dlt"),
        (".dlt", "<topic>.dlt"),
        ("-DLT", "<topic>-DLT"),
        ("_dlt", "<topic>_dlt"),
        ("_DLT", "<topic>_DLT"),
    ];
    for (suffix, convention) in SUFFIXES {
        if let Some(base) = topic.strip_suffix(suffix).filter(|b| !b.is_empty()) {
            if base.starts_with("dlq-") || base.starts_with("DLQ-") {
                return None;
            }
            return Some((base.to_string(), convention));
        }
    }
    if let Some(rest) = topic
        .strip_prefix("dead-letter-topic-")
        .filter(|r| !r.is_empty())
    {
        return Some((rest.to_string(), "SmallRye's dead-letter-topic-<topic>"));
    }
    if let Some(rest) = topic.strip_prefix("error.") {
        // `error.<destination>.<group>`: the group is the last segment (a destination may
        // itself hold dots).
        if let Some((dest, group)) = rest.rsplit_once('.') {
            if !dest.is_empty() && !group.is_empty() {
                return Some((
                    dest.to_string(),
                    "Spring Cloud Stream's error.<destination>.<group>",
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_patterns_cover_every_convention() {
        for t in [
            "order.created.dlq",
            "orders.DLT",
            "orders-dlt",
            "orders-dlq",
            "orders_dlq",
            "error.orders.billing",
            "dead-letter-topic-orders",
            "dlq-jdbc-sink",
            "DLQ.orders",
        ] {
            assert!(looks_like_dead_letter_topic(t), "{t}");
        }
        for t in [
            "order.created",
            "orders",
            "payment.completed",
            "dlqueue",
            "errors",
            "orders.dltx",
            "saga.step",
            "breaker.transition",
        ] {
            assert!(!looks_like_dead_letter_topic(t), "{t}");
        }
    }

    #[test]
    fn original_topics_from_names() {
        let o = |t: &str| original_topic_from_name(t).map(|(o, _)| o);
        assert_eq!(o("order.created.dlq").as_deref(), Some("order.created"));
        assert_eq!(o("orders.DLT").as_deref(), Some("orders"));
        assert_eq!(o("orders-dlt").as_deref(), Some("orders"));
        assert_eq!(o("error.orders.in.billing").as_deref(), Some("orders.in"));
        assert_eq!(o("dead-letter-topic-orders").as_deref(), Some("orders"));
        assert_eq!(o("dlq-jdbc-sink"), None);
        assert_eq!(o("dlq-jdbc-sink-dlq"), None);
        assert_eq!(o(".dlq"), None);
        assert_eq!(o("orders"), None);
    }

    #[test]
    fn selections_take_names_and_patterns() {
        let s = TopicSelection::parse(&[" orders ", "", "^billing\\..+$"]).unwrap();
        assert!(s.matches("orders"));
        assert!(s.matches("billing.invoices"));
        assert!(!s.matches("orders2"));
        assert!(!s.matches("billing"));
        assert_eq!(s.entries(), ["orders", "^billing\\..+$"]);
        assert_eq!(
            s.matching_entries("billing.x").collect::<Vec<_>>(),
            ["^billing\\..+$"]
        );
        assert!(TopicSelection::parse(&["^(unclosed"]).is_err());
        assert!(TopicSelection::parse(&["has space"]).is_err());
        assert_eq!(TopicSelection::contract_events().entries().len(), 19);
    }
}
