//! The orchestrated order saga, running for real: reserve inventory → process payment →
//! create shipment, compensating completed steps in reverse order when one fails.
//!
//! Everything it decides comes from the durable `saga_log` ([`super::saga::next`]), written
//! before each action; sagas are claimed with a lease, so after a crash (or kill -9) another
//! runner — or the restarted one — resumes them once the lease lapses. Events published on
//! behalf of a log entry carry an id derived from (saga, log position, type), so a
//! re-publish after a crash repeats the same event id rather than inventing a new one.

use super::aggregate;
use super::dependency::{CallError, Dependency, Faults, SharedFaults};
use super::publish;
use super::saga::{next, Entry, Next, Outcome, Phase, ORDER_STEPS};
use crate::contract::Envelope;
use chrono::Utc;
use rdkafka::producer::FutureProducer;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// How long a runner holds a saga before others may take it over
/// (`SWITCHYARD_SAGA_LEASE_SECS`, default 10).
fn lease_secs() -> f64 {
    std::env::var("SWITCHYARD_SAGA_LEASE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10.0)
}

pub struct Fleet {
    pub pool: PgPool,
    pub producer: FutureProducer,
    /// One dependency per saga step, in [`ORDER_STEPS`] order.
    pub deps: Vec<Arc<Dependency>>,
    pub faults: SharedFaults,
}

fn phase_str(p: Phase) -> &'static str {
    match p {
        Phase::Execute => "execute",
        Phase::Compensate => "compensate",
    }
}

fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Started => "started",
        Outcome::Succeeded => "succeeded",
        Outcome::Failed => "failed",
    }
}

/// The domain event a step outcome announces.
fn domain_event(step: usize, phase: Phase, ok: bool) -> &'static str {
    match (ORDER_STEPS[step], phase, ok) {
        ("inventory", Phase::Execute, true) => "inventory.reserved",
        ("inventory", Phase::Execute, false) => "inventory.failed",
        ("inventory", Phase::Compensate, _) => "inventory.released",
        ("payment", Phase::Execute, true) => "payment.completed",
        ("payment", Phase::Execute, false) => "payment.failed",
        ("payment", Phase::Compensate, _) => "payment.refunded",
        ("shipment", Phase::Execute, true) => "shipment.created",
        ("shipment", Phase::Execute, false) => "shipment.failed",
        _ => "shipment.cancelled",
    }
}

impl Fleet {
    /// Builds the three dependencies with the given breaker settings.
    pub fn new(pool: PgPool, producer: FutureProducer, breaker: super::breaker::Config) -> Self {
        let deps = vec![
            Arc::new(Dependency::new(
                "inventory",
                "warehouse-api",
                breaker.clone(),
                32,
            )),
            Arc::new(Dependency::new(
                "payment",
                "payment-gateway",
                breaker.clone(),
                32,
            )),
            Arc::new(Dependency::new("shipment", "carrier-api", breaker, 32)),
        ];
        Fleet {
            pool,
            producer,
            deps,
            faults: Arc::new(RwLock::new(Faults::default())),
        }
    }

    async fn emit(
        &self,
        kind: &str,
        order_id: &str,
        saga_id: &str,
        seq: usize,
        data: Value,
    ) -> anyhow::Result<()> {
        let mut env = Envelope::new(
            kind,
            order_id,
            kind.split('.').next().unwrap_or("fleet"),
            data,
        );
        env.id = Uuid::new_v5(
            &Uuid::NAMESPACE_OID,
            format!("{saga_id}/{seq}/{kind}").as_bytes(),
        );
        env.correlation_id = saga_id.to_string();
        publish(&self.producer, &env).await?;
        Ok(())
    }

    async fn emit_transitions(
        &self,
        dep: &Dependency,
        transitions: Vec<super::breaker::Transition>,
    ) {
        for t in transitions {
            let data = json!({"service": dep.service, "breaker": dep.name, "from": t.from.as_str(),
                "to": t.to.as_str(), "failure_rate": t.failure_rate / 100.0,
                "slow_call_rate": t.slow_call_rate / 100.0, "failure_count": t.calls,
                "at": Utc::now().to_rfc3339()});
            let env = Envelope::new("breaker.transition", dep.service, dep.service, data);
            if let Err(e) = publish(&self.producer, &env).await {
                tracing::warn!(error = %e, "cannot publish breaker transition");
            }
        }
    }

    /// Creates an order (event-sourced), its saga, and announces `order.created`.
    pub async fn start_order(&self) -> anyhow::Result<String> {
        let order_id = super::orders::new_order_id();
        let created = super::orders::new_order(&order_id, &mut rand::rng());
        let saga_id = format!("SAGA-{order_id}");
        // The order and its saga exist together or not at all.
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO sagas (saga_id, order_id) VALUES ($1, $2)")
            .bind(&saga_id)
            .bind(&order_id)
            .execute(&mut *tx)
            .await?;
        let stored = aggregate::append_in(
            &mut tx,
            &order_id,
            0,
            &[("order.created", created.data.clone())],
        )
        .await?;
        tx.commit().await?;
        let mut env = created;
        env.id = stored[0].event_id;
        env.aggregate_version = Some(1);
        env.correlation_id = saga_id;
        publish(&self.producer, &env).await?;
        Ok(order_id)
    }

    async fn log(
        &self,
        saga_id: &str,
        seq: usize,
        e: &Entry,
        error: Option<&str>,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO saga_log (saga_id, seq, step, phase, outcome, error) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(saga_id)
        .bind(seq as i32)
        .bind(e.step as i32)
        .bind(phase_str(e.phase))
        .bind(outcome_str(e.outcome))
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn load_log(&self, saga_id: &str) -> sqlx::Result<(Vec<Entry>, Option<String>)> {
        let rows: Vec<(i32, String, String, Option<String>)> = sqlx::query_as(
            "SELECT step, phase, outcome, error FROM saga_log WHERE saga_id = $1 ORDER BY seq",
        )
        .bind(saga_id)
        .fetch_all(&self.pool)
        .await?;
        let first_error = rows.iter().find_map(|r| r.3.clone());
        let log = rows
            .into_iter()
            .map(|(step, phase, outcome, _)| Entry {
                step: step as usize,
                phase: if phase == "execute" {
                    Phase::Execute
                } else {
                    Phase::Compensate
                },
                outcome: match outcome.as_str() {
                    "started" => Outcome::Started,
                    "succeeded" => Outcome::Succeeded,
                    _ => Outcome::Failed,
                },
            })
            .collect();
        Ok((log, first_error))
    }

    async fn step_event(
        &self,
        saga_id: &str,
        order_id: &str,
        seq: usize,
        e: &Entry,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        let mut data = json!({"saga_id": saga_id, "order_id": order_id, "step": ORDER_STEPS[e.step],
            "action": phase_str(e.phase), "status": outcome_str(e.outcome), "attempt": 1,
            "at": Utc::now().to_rfc3339()});
        if let Some(err) = error {
            data["error"] = json!(err);
        }
        self.emit("saga.step", order_id, saga_id, seq, data).await
    }

    /// Drives one saga until it ends (or its lease should be given up).
    pub async fn drive(&self, saga_id: &str, order_id: &str) -> anyhow::Result<Next> {
        loop {
            let (log, first_error) = self.load_log(saga_id).await?;
            let seq = log.len();
            let (step, phase) = match next(&log, ORDER_STEPS.len()) {
                Next::Execute(s) => (s, Phase::Execute),
                Next::Compensate(s) => (s, Phase::Compensate),
                end => return self.finish(saga_id, order_id, seq, end, first_error).await,
            };
            let started = Entry {
                step,
                phase,
                outcome: Outcome::Started,
            };
            self.log(saga_id, seq, &started, None).await?;
            self.step_event(saga_id, order_id, seq, &started, None)
                .await?;

            let dep = self.deps[step].clone();
            let faults = self.faults.read().unwrap().clone();
            let mut attempt = 0;
            let result = loop {
                attempt += 1;
                let (r, transitions) = dep.call(&faults).await;
                self.emit_transitions(&dep, transitions).await;
                // Compensations must happen: retry them; execute steps fail fast.
                match r {
                    Err(
                        CallError::Unavailable(_)
                        | CallError::NotPermitted
                        | CallError::BulkheadFull,
                    ) if phase == Phase::Compensate && attempt < 5 => {
                        tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                    }
                    r => break r,
                }
            };
            let (outcome, error) = match &result {
                Ok(()) => (Outcome::Succeeded, None),
                Err(e) => (
                    Outcome::Failed,
                    Some(format!("{}: {}", ORDER_STEPS[step], e.message())),
                ),
            };
            let done = Entry {
                step,
                phase,
                outcome,
            };
            self.log(saga_id, seq + 1, &done, error.as_deref()).await?;
            self.step_event(saga_id, order_id, seq + 1, &done, error.as_deref())
                .await?;
            let mut data = json!({"order_id": order_id});
            if let Some(err) = &error {
                data["reason"] = json!(err);
            }
            if ORDER_STEPS[step] == "shipment" && result.is_ok() {
                data["tracking"] = json!(format!("TRK-{order_id}"));
            }
            self.emit(
                domain_event(step, phase, result.is_ok()),
                order_id,
                saga_id,
                seq + 1,
                data,
            )
            .await?;
        }
    }

    async fn finish(
        &self,
        saga_id: &str,
        order_id: &str,
        seq: usize,
        end: Next,
        reason: Option<String>,
    ) -> anyhow::Result<Next> {
        let (state, kind, data) = match &end {
            Next::Completed => ("completed", "order.completed", json!({})),
            Next::Compensated => (
                "compensated",
                "order.failed",
                json!({"reason": reason.unwrap_or_default()}),
            ),
            _ => (
                "stuck",
                "order.failed",
                json!({"reason": "compensation failed; needs an operator"}),
            ),
        };
        let events = aggregate::load(&self.pool, order_id).await?;
        let version = events.last().map_or(0, |e| e.version);
        // Idempotent on resume: the terminal event is appended once.
        if !events.iter().any(|e| e.event_type == kind) {
            aggregate::append(&self.pool, order_id, version, &[(kind, data.clone())]).await?;
        }
        self.emit(kind, order_id, saga_id, seq, data).await?;
        if kind == "order.completed" {
            self.emit(
                "notification.sent",
                order_id,
                saga_id,
                seq,
                json!({"order_id": order_id, "channel": "email"}),
            )
            .await?;
        }
        sqlx::query("UPDATE sagas SET state = $2, lease_until = NULL, updated_at = now() WHERE saga_id = $1")
            .bind(saga_id)
            .bind(state)
            .execute(&self.pool)
            .await?;
        Ok(end)
    }

    /// Claims running sagas whose lease lapsed (or never was).
    async fn claim(&self, n: i64) -> sqlx::Result<Vec<(String, String)>> {
        sqlx::query_as(
            "UPDATE sagas SET lease_until = now() + make_interval(secs => $2)
             WHERE saga_id IN (
                SELECT saga_id FROM sagas
                WHERE state = 'running' AND (lease_until IS NULL OR lease_until < now())
                ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED)
             RETURNING saga_id, order_id",
        )
        .bind(n)
        .bind(lease_secs())
        .fetch_all(&self.pool)
        .await
    }

    async fn refresh_faults(&self) -> sqlx::Result<()> {
        let rows: Vec<(String, f64)> = sqlx::query_as("SELECT name, value FROM faults")
            .fetch_all(&self.pool)
            .await?;
        *self.faults.write().unwrap() = Faults(rows.into_iter().collect());
        Ok(())
    }

    async fn publish_metrics(&self) {
        for dep in &self.deps {
            let (state, failure, slow, not_permitted) = dep.snapshot();
            let data = json!({"service": dep.service, "breaker": dep.name, "state": state,
                "failure_rate": failure / 100.0, "slow_call_rate": slow / 100.0,
                "not_permitted": not_permitted, "at": Utc::now().to_rfc3339()});
            let env = Envelope::new("breaker.metrics", dep.service, dep.service, data);
            if let Err(e) = publish(&self.producer, &env).await {
                tracing::warn!(error = %e, "cannot publish breaker metrics");
            }
        }
    }

    /// The notification service: reacts to `order.completed` through the event bus (so its
    /// failures are retried and dead-lettered like any service's). `notification_poison_rate`
    /// makes that share of messages fail every attempt, to give dead letters to replay.
    pub async fn notification_service(
        self: Arc<Self>,
        brokers: String,
        stop: watch::Receiver<bool>,
    ) {
        let fleet = self.clone();
        let handler = move |env: Envelope| {
            let fleet = fleet.clone();
            async move {
                let rate = fleet
                    .faults
                    .read()
                    .unwrap()
                    .get("notification_poison_rate")
                    .clamp(0.0, 1.0);
                // Deterministic per event, so retries and replays of a poisoned message fail
                // alike until the fault is lowered.
                let roll = (env.id.as_u128() % 10_000) as f64 / 10_000.0;
                if roll < rate {
                    return Err(super::bus::HandlerError::new(
                        "TemplateError",
                        "cannot render the e-mail template",
                    ));
                }
                Ok(())
            }
        };
        let sub = super::bus::Subscription {
            brokers,
            group: "notification-service".into(),
            topics: vec!["order.completed".into()],
            retry: super::bus::RetryPolicy::default(),
        };
        if let Err(e) = sub
            .run(self.pool.clone(), self.producer.clone(), handler, stop)
            .await
        {
            tracing::error!(error = %e, "notification service stopped");
        }
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
                let _ = sqlx::query(
                    "INSERT INTO faults (name, value) VALUES ('payment_outage', $1)
                     ON CONFLICT (name) DO UPDATE SET value = $1, updated_at = now()",
                )
                .bind(value)
                .execute(&pool)
                .await;
                tracing::info!(payment_outage = value, "demo chaos");
            }
        }
    }

    /// Runs the fleet: new orders at `orders_per_second` (0: none), sagas driven to their
    /// end, faults refreshed, breaker metrics published, until `stop` turns true.
    pub async fn run(self: Arc<Self>, orders_per_second: f64, stop: watch::Receiver<bool>) {
        let mut tasks = Vec::new();
        if orders_per_second > 0.0 {
            let (fleet, mut stop) = (self.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut tick =
                    tokio::time::interval(Duration::from_secs_f64(1.0 / orders_per_second));
                loop {
                    tokio::select! { _ = tick.tick() => {}, _ = stop.changed() => return }
                    if let Err(e) = fleet.start_order().await {
                        tracing::warn!(error = %e, "cannot start an order");
                    }
                }
            }));
        }
        let (fleet, mut stop2) = (self.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            let mut n = 0u32;
            loop {
                tokio::select! { _ = tick.tick() => {}, _ = stop2.changed() => return }
                if let Err(e) = fleet.refresh_faults().await {
                    tracing::warn!(error = %e, "cannot read faults");
                }
                n += 1;
                if n.is_multiple_of(10) {
                    fleet.publish_metrics().await;
                }
            }
        }));
        let mut stop = stop;
        loop {
            let claimed = match self.claim(16).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim sagas");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
                    _ = stop.changed() => break,
                }
            }
            let drives = claimed.iter().map(|(saga, order)| self.drive(saga, order));
            for r in futures::future::join_all(drives).await {
                if let Err(e) = r {
                    tracing::warn!(error = %e, "saga interrupted; it resumes when its lease lapses");
                }
            }
            if *stop.borrow() {
                break;
            }
        }
        for t in tasks {
            t.abort();
        }
    }
}
