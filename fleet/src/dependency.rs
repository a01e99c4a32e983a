//! The services' downstream dependencies (payment gateway, warehouse API, carrier API),
//! simulated with injectable faults, each behind a bulkhead (bounded concurrency) and a
//! circuit breaker.
//!
//! Business refusals (a declined card) are answers, not faults: they fail the saga step
//! but count as successful calls for the breaker, as Resilience4j's `ignoreExceptions`
//! would have it. Outages and time-outs count as failures.

use super::breaker::{Breaker, Config, Transition};
use rand::Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Current fault settings by name (the catalogue is `fault_kinds`, see
/// [`faults`](crate::faults)), refreshed from the `faults` table.
#[derive(Clone, Debug, Default)]
pub struct Faults(pub HashMap<String, f64>);

impl Faults {
    pub fn get(&self, name: &str) -> f64 {
        self.0.get(name).copied().unwrap_or(0.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The breaker refused the call.
    NotPermitted,
    /// The bulkhead is full.
    BulkheadFull,
    /// The dependency failed (outage, time-out).
    Unavailable(String),
    /// The dependency answered no (business refusal).
    Refused(String),
}

impl CallError {
    pub fn message(&self) -> String {
        match self {
            CallError::NotPermitted => "circuit breaker open".into(),
            CallError::BulkheadFull => "bulkhead full".into(),
            CallError::Unavailable(m) | CallError::Refused(m) => m.clone(),
        }
    }
}

pub struct Dependency {
    pub service: &'static str,
    pub name: &'static str,
    breaker: Mutex<Breaker>,
    bulkhead: Semaphore,
    started: Instant,
}

impl Dependency {
    pub fn new(
        service: &'static str,
        name: &'static str,
        config: Config,
        max_concurrent: usize,
    ) -> Self {
        Dependency {
            service,
            name,
            breaker: Mutex::new(Breaker::new(config)),
            bulkhead: Semaphore::new(max_concurrent),
            started: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Calls the (simulated) dependency to do (`undo` false) or undo something; a refund is
    /// never declined. Returns the result and any breaker transitions.
    pub async fn call(
        &self,
        faults: &Faults,
        undo: bool,
    ) -> (Result<(), CallError>, Vec<Transition>) {
        let Ok(_permit) = self.bulkhead.try_acquire() else {
            return (Err(CallError::BulkheadFull), vec![]);
        };
        let permitted = self.breaker.lock().unwrap().try_acquire(self.now_ms());
        if !permitted {
            return (Err(CallError::NotPermitted), self.transitions());
        }
        let begun = Instant::now();
        let latency = faults.get("latency_ms").max(0.0) as u64 + rand::rng().random_range(2..15);
        tokio::time::sleep(Duration::from_millis(latency)).await;
        let result = if faults.get(&format!("{}_outage", self.service)) >= 1.0 {
            Err(CallError::Unavailable(format!("{} unavailable", self.name)))
        } else if self.service == "payment"
            && !undo
            && rand::rng().random_bool(faults.get("payment_decline_rate").clamp(0.0, 1.0))
        {
            Err(CallError::Refused("card declined".into()))
        } else {
            Ok(())
        };
        let failed = matches!(result, Err(CallError::Unavailable(_)));
        let took = begun.elapsed().as_millis() as u64;
        self.breaker
            .lock()
            .unwrap()
            .on_result(self.now_ms(), took, failed);
        (result, self.transitions())
    }

    fn transitions(&self) -> Vec<Transition> {
        self.breaker.lock().unwrap().take_transitions()
    }

    /// (state, failure rate %, slow-call rate %, not permitted so far) for `breaker.metrics`.
    pub fn snapshot(&self) -> (&'static str, f64, f64, u64) {
        let b = self.breaker.lock().unwrap();
        let (f, s) = b.rates();
        (b.state().as_str(), f, s, b.not_permitted)
    }
}

/// Shared, refreshable fault settings.
pub type SharedFaults = Arc<RwLock<Faults>>;
