//! One fleet process: which services it runs (`switchyard-fleet run --service …`), in which saga
//! style (`--mode`), and what every process does whatever it runs — read the faults from
//! the `faults` table, and publish the breaker transitions and `breaker.metrics` of the
//! dependencies it owns.
//!
//! The services share nothing but Kafka (the event contract's topics) and, each for its
//! own tables, the fleet schema. Each consumes as its own consumer group
//! (`<service>-service`), so several processes of one service split its partitions, and
//! any one of them can be killed and restarted alone.

use super::breaker::{Config, Transition};
use super::bus::{Accept, HandlerError, RetryPolicy, Subscription};
use super::dependency::{Dependency, Faults, SharedFaults};
use chrono::Utc;
use serde_json::json;
use sqlx::PgPool;
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use switchyard_contract::kafka::renewing::RenewingProducer;
use switchyard_contract::Envelope;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How the saga runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// The order service drives each saga from its durable log and asks each step's
    /// service to act through `saga.step` requests.
    #[default]
    Orchestrated,
    /// No conductor: each service reacts to the previous one's domain events, and a
    /// failure travels back as events that trigger the compensations.
    Choreographed,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Orchestrated => "orchestrated",
            Mode::Choreographed => "choreographed",
        }
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "orchestrated" => Ok(Mode::Orchestrated),
            "choreographed" => Ok(Mode::Choreographed),
            _ => Err(format!(
                "unknown mode {s:?} (orchestrated or choreographed)"
            )),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    Order,
    Inventory,
    Payment,
    Shipment,
    Notification,
}

impl Service {
    pub const ALL: [Service; 5] = [
        Service::Order,
        Service::Inventory,
        Service::Payment,
        Service::Shipment,
        Service::Notification,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Order => "order",
            Service::Inventory => "inventory",
            Service::Payment => "payment",
            Service::Shipment => "shipment",
            Service::Notification => "notification",
        }
    }

    /// The consumer group (and the `source` of what it publishes).
    pub fn group(self) -> String {
        format!("{}-service", self.name())
    }

    /// The saga step it performs (index into [`super::saga::ORDER_STEPS`]).
    pub fn step(self) -> Option<usize> {
        match self {
            Service::Inventory => Some(0),
            Service::Payment => Some(1),
            Service::Shipment => Some(2),
            _ => None,
        }
    }

    pub fn of_step(step: usize) -> Service {
        [Service::Inventory, Service::Payment, Service::Shipment][step]
    }

    /// Parses `--service` values: names, comma lists, `all`; duplicates dropped.
    pub fn parse_list(values: &[String]) -> anyhow::Result<Vec<Service>> {
        let mut out = Vec::new();
        for v in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
            let add: Vec<Service> = match v {
                "" => vec![],
                "all" => Service::ALL.to_vec(),
                name => vec![*Service::ALL
                    .iter()
                    .find(|s| s.name() == name)
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                    "unknown service {name:?} (order, inventory, payment, shipment, notification, all)"
                )
                    })?],
            };
            for s in add {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        if out.is_empty() {
            out = Service::ALL.to_vec();
        }
        Ok(out)
    }
}

/// What a fleet process's services share: its connections, its dependencies (used only by
/// the step services it runs) and the faults it last read.
pub struct Fleet {
    pub pool: PgPool,
    pub producer: RenewingProducer,
    pub brokers: String,
    pub mode: Mode,
    /// One dependency per saga step, in [`super::saga::ORDER_STEPS`] order.
    pub deps: Vec<Arc<Dependency>>,
    pub faults: SharedFaults,
    pub retry: RetryPolicy,
}

/// A handler error for what is not the message's fault (database, broker): retried, then
/// dead-lettered.
pub fn internal(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::new("Internal", e.to_string())
}

impl Fleet {
    pub fn new(
        pool: PgPool,
        producer: RenewingProducer,
        brokers: &str,
        breaker: Config,
        mode: Mode,
    ) -> Self {
        // One dependency per breaker of the contract (inventory's warehouse-api, ...).
        let deps = switchyard_contract::BREAKERS
            .iter()
            .map(|(service, name)| Arc::new(Dependency::new(service, name, breaker.clone(), 32)))
            .collect();
        Fleet {
            pool,
            producer,
            brokers: brokers.to_string(),
            mode,
            deps,
            faults: Arc::new(RwLock::new(Faults::default())),
            retry: RetryPolicy::default(),
        }
    }

    pub(crate) async fn emit_transitions(&self, dep: &Dependency, transitions: Vec<Transition>) {
        for t in transitions {
            let data = json!({"service": dep.service, "breaker": dep.name, "from": t.from.as_str(),
                "to": t.to.as_str(), "failure_rate": t.failure_rate / 100.0,
                "slow_call_rate": t.slow_call_rate / 100.0, "failure_count": t.calls,
                "at": Utc::now().to_rfc3339()});
            let env = Envelope::new("breaker.transition", dep.service, dep.service, data);
            if let Err(e) = self.producer.publish(&env).await {
                tracing::warn!(error = %e, "cannot publish breaker transition");
            }
        }
    }

    pub async fn refresh_faults(&self) -> sqlx::Result<()> {
        let rows: Vec<(String, f64)> = sqlx::query_as("SELECT name, value FROM faults")
            .fetch_all(&self.pool)
            .await?;
        *self.faults.write().unwrap() = Faults(rows.into_iter().collect());
        Ok(())
    }

    async fn publish_metrics(&self, steps: &[usize]) {
        for &step in steps {
            let dep = &self.deps[step];
            let (state, failure, slow, not_permitted) = dep.snapshot();
            let data = json!({"service": dep.service, "breaker": dep.name, "state": state,
                "failure_rate": failure / 100.0, "slow_call_rate": slow / 100.0,
                "not_permitted": not_permitted, "at": Utc::now().to_rfc3339()});
            let env = Envelope::new("breaker.metrics", dep.service, dep.service, data);
            if let Err(e) = self.producer.publish(&env).await {
                tracing::warn!(error = %e, "cannot publish breaker metrics");
            }
        }
    }

    /// Runs `service`'s subscription to `topics` on the bus (retries, dead letters,
    /// idempotency) until `stop`.
    pub(crate) fn subscribe<H, F>(
        &self,
        service: Service,
        topics: &[&str],
        accept: Option<Accept>,
        handler: H,
        stop: watch::Receiver<bool>,
    ) -> JoinHandle<()>
    where
        H: Fn(Envelope) -> F + Send + Sync + 'static,
        F: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        let sub = Subscription {
            brokers: self.brokers.clone(),
            group: service.group(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            retry: self.retry.clone(),
            accept,
        };
        let (pool, producer) = (self.pool.clone(), self.producer.clone());
        tokio::spawn(async move {
            if let Err(e) = sub.run(pool, producer, handler, stop).await {
                tracing::error!(error = %e, service = service.name(), "service stopped");
            }
        })
    }

    /// Demo chaos: a payment-gateway outage of `outage` every `every`, so breakers open and
    /// close and dead letters appear while someone watches.
    pub async fn chaos(
        pool: PgPool,
        every: Duration,
        outage: Duration,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            for (value, wait) in [(0.0, every), (1.0, outage)] {
                tokio::select! { _ = tokio::time::sleep(wait) => {}, _ = stop.changed() => return }
                if let Err(e) = crate::faults::set(&pool, "payment_outage", value).await {
                    tracing::warn!(error = %e, "demo chaos: cannot set payment_outage");
                }
                tracing::info!(payment_outage = value, "demo chaos");
            }
        }
    }

    /// Runs `services` in this process until `stop` turns true; the order service (if it
    /// is one of them) starts `orders_per_second` new orders (0: none).
    pub async fn run(
        self: Arc<Self>,
        services: &[Service],
        orders_per_second: f64,
        stop: watch::Receiver<bool>,
    ) {
        if let Err(e) = self.refresh_faults().await {
            tracing::warn!(error = %e, "cannot read faults");
        }
        let mut tasks = Vec::new();
        let steps: Vec<usize> = services.iter().filter_map(|s| s.step()).collect();
        {
            let (fleet, mut stop) = (self.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(500));
                let mut n = 0u32;
                loop {
                    tokio::select! { _ = tick.tick() => {}, _ = stop.changed() => return }
                    if let Err(e) = fleet.refresh_faults().await {
                        tracing::warn!(error = %e, "cannot read faults");
                    }
                    n += 1;
                    if n.is_multiple_of(10) {
                        fleet.publish_metrics(&steps).await;
                    }
                }
            }));
        }
        for &service in services {
            match (service, self.mode) {
                (Service::Order, Mode::Orchestrated) => {
                    tasks.extend(self.clone().run_orchestrator(stop.clone()))
                }
                (Service::Order, Mode::Choreographed) => {
                    tasks.extend(self.clone().run_choreographed_orders(stop.clone()))
                }
                (Service::Notification, _) => {
                    tasks.push(self.clone().run_notification(stop.clone()))
                }
                (s, Mode::Orchestrated) => tasks.push(
                    self.clone()
                        .run_step_requests(s.step().expect("a step service"), stop.clone()),
                ),
                (s, Mode::Choreographed) => tasks.push(
                    self.clone()
                        .run_choreographed_step(s.step().expect("a step service"), stop.clone()),
                ),
            }
        }
        if orders_per_second > 0.0 {
            if services.contains(&Service::Order) {
                tasks.push(
                    self.clone()
                        .generate_orders(orders_per_second, stop.clone()),
                );
            } else {
                tracing::warn!("--rate ignored: the order service does not run here");
            }
        }
        let mut stop = stop;
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                break;
            }
        }
        // Subscriptions see the same stop and commit their offsets before they end.
        // Within the process's stop bound (each consumer's close is bounded by itself).
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            futures::future::join_all(tasks.iter_mut()),
        )
        .await;
        for t in tasks {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_lists_accept_names_commas_and_all() {
        let parse =
            |v: &[&str]| Service::parse_list(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(parse(&["payment"]).unwrap(), vec![Service::Payment]);
        assert_eq!(
            parse(&["payment,inventory", "payment"]).unwrap(),
            vec![Service::Payment, Service::Inventory]
        );
        assert_eq!(parse(&["all"]).unwrap(), Service::ALL.to_vec());
        assert!(parse(&["billing"]).is_err());
        assert_eq!("choreographed".parse::<Mode>(), Ok(Mode::Choreographed));
    }
}
