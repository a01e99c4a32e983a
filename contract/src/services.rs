//! The fleet's service map: which service consumes which topic, and the breaker that
//! guards the dependency it calls when it does. The console reads it to hold a replay back
//! while the breaker a replayed message would hit is not closed (breaker-aware replay);
//! the fleet builds its dependencies from it and a fleet test checks that its consumers
//! subscribe to exactly these topics. Other teams' services are not in it: for their
//! topics an operator names the breakers to wait on.

use crate::topics::SAGA_STEP;
use std::sync::LazyLock;

/// A service, the breaker in front of the dependency it calls, and the topics whose
/// records make it call that dependency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dependency {
    pub service: &'static str,
    pub breaker: &'static str,
    pub consumes: &'static [&'static str],
}

/// The saga's step services, in step order. Each consumes `saga.step` (the orchestrated
/// saga) and the domain events that trigger it in the choreographed one: the previous
/// step's success, and the next step's failure or compensation (which it undoes).
pub const DEPENDENCIES: &[Dependency] = &[
    Dependency {
        service: "inventory",
        breaker: "warehouse-api",
        consumes: &[
            "order.created",
            "payment.failed",
            "payment.refunded",
            SAGA_STEP,
        ],
    },
    Dependency {
        service: "payment",
        breaker: "payment-gateway",
        consumes: &[
            "inventory.reserved",
            "shipment.failed",
            "shipment.cancelled",
            SAGA_STEP,
        ],
    },
    Dependency {
        service: "shipment",
        breaker: "carrier-api",
        consumes: &["payment.completed", SAGA_STEP],
    },
];

/// The fleet's circuit breakers as (service, breaker), in step order: what
/// `breaker.transition` and `breaker.metrics` events name; the console's assistant reads
/// them to know what "the warehouse" or "the gateway" means.
pub static BREAKERS: LazyLock<Vec<(&'static str, &'static str)>> = LazyLock::new(|| {
    DEPENDENCIES
        .iter()
        .map(|d| (d.service, d.breaker))
        .collect()
});

/// The breakers a record sent to `topic` may run into, each once, in step order.
pub fn breakers_behind(topic: &str) -> Vec<&'static str> {
    DEPENDENCIES
        .iter()
        .filter(|d| d.consumes.contains(&topic))
        .map(|d| d.breaker)
        .collect()
}

/// The dependency of a service.
pub fn dependency_of(service: &str) -> Option<&'static Dependency> {
    DEPENDENCIES.iter().find(|d| d.service == service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_topic_leads_to_the_breakers_of_its_consumers() {
        assert_eq!(breakers_behind("inventory.reserved"), ["payment-gateway"]);
        assert_eq!(breakers_behind("order.created"), ["warehouse-api"]);
        assert_eq!(
            breakers_behind(SAGA_STEP),
            ["warehouse-api", "payment-gateway", "carrier-api"]
        );
        assert!(breakers_behind("order.completed").is_empty());
        assert!(breakers_behind("payments.DLT").is_empty());
        assert_eq!(dependency_of("shipment").unwrap().breaker, "carrier-api");
    }

    #[test]
    fn every_consumed_topic_is_a_contract_topic() {
        let all = crate::topics::all_topics();
        for d in DEPENDENCIES {
            for t in d.consumes {
                assert!(all.iter().any(|a| a == t), "{t}");
            }
        }
    }
}
