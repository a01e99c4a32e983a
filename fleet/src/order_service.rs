//! The order service's own work in both saga styles: new orders (event-sourced, created
//! together with their saga row and announced by `order.created`), the load generator
//! (`--rate`), and the end of a saga — the order's terminal event appended once and
//! announced, the saga row closed.

use super::aggregate;
use super::events::{emit, stable_id};
use super::runtime::{Fleet, Mode, Service};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a saga may wait for news before the order service acts on it
/// (`SWITCHYARD_SAGA_LEASE_SECS`, default 10): the orchestrator re-sends the pending request,
/// the choreographed order service re-announces `order.created`.
pub fn lease_secs() -> f64 {
    std::env::var("SWITCHYARD_SAGA_LEASE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10.0)
}

impl Fleet {
    /// Creates an order (event-sourced) and its saga, announces `order.created`, and (when
    /// orchestrated) sends the first step's request.
    pub async fn start_order(&self) -> anyhow::Result<String> {
        let order_id = super::orders::new_order_id();
        let created = super::orders::new_order(&order_id, &mut rand::rng());
        let saga_id = format!("SAGA-{order_id}");
        // The order and its saga exist together or not at all.
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO sagas (saga_id, order_id, mode, lease_until)
             VALUES ($1, $2, $3, CASE WHEN $3 = 'choreographed'
                 THEN now() + make_interval(secs => $4) END)",
        )
        .bind(&saga_id)
        .bind(&order_id)
        .bind(self.mode.as_str())
        .bind(lease_secs())
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
        env.correlation_id = saga_id.clone();
        self.producer.publish(&env).await?;
        if self.mode == Mode::Orchestrated {
            self.advance(&saga_id, None).await?;
        }
        Ok(order_id)
    }

    /// Announces an order's stored `order.created` again, with its stored id.
    pub(crate) async fn republish_created(
        &self,
        saga_id: &str,
        order_id: &str,
    ) -> anyhow::Result<()> {
        let events = aggregate::load(&self.pool, order_id).await?;
        let Some(created) = events.iter().find(|e| e.event_type == "order.created") else {
            return Ok(());
        };
        let mut env = switchyard_contract::Envelope::new(
            "order.created",
            order_id,
            &Service::Order.group(),
            created.data.clone(),
        );
        env.id = created.event_id;
        env.aggregate_version = Some(created.version);
        env.occurred_at = created.at;
        env.correlation_id = saga_id.to_string();
        self.producer.publish(&env).await?;
        Ok(())
    }

    /// Ends a saga whose row `tx` holds locked: appends the order's terminal event (once),
    /// announces it, and closes the saga — the announcement before the commit, so a crash
    /// in between announces it again (same id) rather than never.
    pub(crate) async fn finish_in(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
        saga_id: &str,
        order_id: &str,
        state: &str,
        reason: Option<String>,
    ) -> anyhow::Result<()> {
        let (kind, data) = match state {
            "completed" => ("order.completed", json!({"order_id": order_id})),
            _ => (
                "order.failed",
                json!({"order_id": order_id, "reason": reason.unwrap_or_default()}),
            ),
        };
        let events = aggregate::load(&self.pool, order_id).await?;
        let version = events.last().map_or(0, |e| e.version);
        if !events.iter().any(|e| e.event_type == kind) {
            aggregate::append_in(&mut tx, order_id, version, &[(kind, data.clone())]).await?;
        }
        emit(
            &self.producer,
            kind,
            order_id,
            saga_id,
            &Service::Order.group(),
            stable_id(&format!("{saga_id}/{kind}")),
            data,
        )
        .await?;
        sqlx::query(
            "UPDATE sagas SET state = $2, lease_until = NULL, updated_at = now() WHERE saga_id = $1",
        )
        .bind(saga_id)
        .bind(state)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// New orders at `orders_per_second` until `stop`.
    pub(crate) fn generate_orders(
        self: Arc<Self>,
        orders_per_second: f64,
        mut stop: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / orders_per_second));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! { _ = tick.tick() => {}, _ = stop.changed() => return }
                if let Err(e) = self.start_order().await {
                    tracing::warn!(error = %e, "cannot start an order");
                }
            }
        })
    }
}
