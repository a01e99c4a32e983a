//! Topic names (PRODUCT.md, "The event contract"): one topic per event type,
//! `<aggregate>.<past-tense>`, keyed by order id, and a dead-letter topic per domain and
//! saga topic.

/// Domain topics: one per event type, `<aggregate>.<past-tense>`, keyed by order id.
pub const DOMAIN_TOPICS: &[&str] = &[
    "order.created",
    "order.confirmed",
    "order.cancelled",
    "order.failed",
    "order.completed",
    "inventory.reserved",
    "inventory.failed",
    "inventory.released",
    "payment.completed",
    "payment.failed",
    "payment.refunded",
    "shipment.created",
    "shipment.failed",
    "shipment.cancelled",
    "notification.sent",
];
pub const SAGA_STEP: &str = "saga.step";
pub const BREAKER_TRANSITION: &str = "breaker.transition";
pub const BREAKER_METRICS: &str = "breaker.metrics";
pub use crate::saga_command::SAGA_COMMAND;
/// Suffix of every dead-letter topic: `<topic>.dlq`.
pub const DLQ_SUFFIX: &str = ".dlq";

/// Every event type the console understands (domain, saga, operator command and breaker
/// topics).
pub fn event_types() -> impl Iterator<Item = &'static str> {
    DOMAIN_TOPICS.iter().copied().chain([
        SAGA_STEP,
        SAGA_COMMAND,
        BREAKER_TRANSITION,
        BREAKER_METRICS,
    ])
}

pub fn is_known_type(t: &str) -> bool {
    event_types().any(|k| k == t)
}

/// Every topic the console consumes: each event type and the dead-letter topic of each
/// domain, saga and command topic.
pub fn all_topics() -> Vec<String> {
    let mut topics: Vec<String> = event_types().map(str::to_string).collect();
    topics.extend(
        DOMAIN_TOPICS
            .iter()
            .chain(&[SAGA_STEP, SAGA_COMMAND])
            .map(|t| format!("{t}{DLQ_SUFFIX}")),
    );
    topics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_cover_types_and_their_dead_letters() {
        let topics = all_topics();
        assert!(topics.contains(&"order.created".to_string()));
        assert!(topics.contains(&"order.created.dlq".to_string()));
        assert!(topics.contains(&"saga.step.dlq".to_string()));
        assert!(topics.contains(&"saga.command.dlq".to_string()));
        assert!(!topics.contains(&"breaker.metrics.dlq".to_string()));
        assert_eq!(topics.len(), 19 + 17);
    }
}
