//! Saga actions' server side (issue 23): an operator's command to an order's saga.
//!
//! The auth layer has checked the role, the CSRF token and the kill-switch; here the
//! admin's switch for the action and that the order is known. The command is recorded in
//! `saga_commands` with its audit row in one transaction, then published on
//! `saga.command` (`switchyard_contract::saga_command`): the record comes first, so a
//! command is never sent without one, and one whose send failed says so. The fleet's
//! order service applies it at most once (the command id is its idempotency key) and
//! answers on the same topic; ingest stores the answer with the order's events, and the
//! order page shows both ([`crate::read_model::commands`]).
//!
//! In batch, over the orders list's filter: [`batch`] (preview, snapshot, views, cancel)
//! and [`runner`] (sends a batch's commands under a lease, throttled, resumable).

pub mod batch;
pub mod runner;

use crate::audit::{self, Actor};
use crate::auth::settings;
use serde_json::json;
use sqlx::PgPool;
use switchyard_app::auth::Principal;
use switchyard_app::console::OrderFilter;
use switchyard_app::ops::OpsError;
use switchyard_app::saga::{
    BatchJobView, BatchPreview, BatchRequest, CommandRequest, CommandView, SagaAction,
    SagaActionsApi,
};
use switchyard_contract::kafka::renewing::RenewingProducer;
use switchyard_contract::saga_command::{Action, SagaCommand, Status};
use uuid::Uuid;

pub struct PgSagaActions {
    pool: PgPool,
    producer: RenewingProducer,
}

impl PgSagaActions {
    pub fn new(pool: PgPool, brokers: &str) -> anyhow::Result<Self> {
        Ok(PgSagaActions {
            pool,
            producer: RenewingProducer::new(brokers)?,
        })
    }
}

/// The contract's action for the page's (the same names; `actions_agree` keeps them so).
pub fn contract_action(a: SagaAction) -> Action {
    Action::parse(a.as_str()).expect("the page's actions are the contract's")
}

#[async_trait::async_trait]
impl SagaActionsApi for PgSagaActions {
    async fn send(&self, who: &Principal, req: &CommandRequest) -> Result<CommandView, OpsError> {
        if !settings::saga_actions_enabled(&self.pool)
            .await?
            .contains(&req.action)
        {
            return Err(format!("{} is switched off by an admin", req.action.label()).into());
        }
        let known: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM orders WHERE order_id = $1)")
                .bind(&req.order_id)
                .fetch_one(&self.pool)
                .await?;
        if !known {
            return Err(format!("no order {:?} in the console", req.order_id).into());
        }
        let cmd = SagaCommand {
            command_id: Uuid::now_v7(),
            order_id: req.order_id.clone(),
            action: contract_action(req.action),
            step: req.step.clone(),
            phase: req.phase.clone(),
            reason: req.reason.clone(),
            requested_by: who.name.clone(),
            status: Status::Requested,
            detail: None,
        };
        let mut tx = self.pool.begin().await?;
        let requested_at: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
            "INSERT INTO saga_commands (command_id, order_id, action, step, phase, reason, requested_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING requested_at",
        )
        .bind(cmd.command_id)
        .bind(&cmd.order_id)
        .bind(req.action.as_str())
        .bind(&cmd.step)
        .bind(&cmd.phase)
        .bind(&cmd.reason)
        .bind(&cmd.requested_by)
        .fetch_one(&mut *tx)
        .await?;
        audit::record(
            &mut *tx,
            &Actor::new(who.name.clone(), who.source.clone()),
            "saga_command",
            Some(&cmd.order_id),
            json!({"command_id": cmd.command_id, "action": req.action.as_str(),
                "step": cmd.step, "phase": cmd.phase, "reason": cmd.reason}),
        )
        .await?;
        tx.commit().await?;
        if let Err(e) = self.producer.publish(&cmd.request()).await {
            self.producer.renew_if_fatal();
            sqlx::query("UPDATE saga_commands SET send_error = $2 WHERE command_id = $1")
                .bind(cmd.command_id)
                .bind(e.to_string())
                .execute(&self.pool)
                .await?;
            return Err(format!("the command is recorded but was not sent: {e}").into());
        }
        sqlx::query("UPDATE saga_commands SET sent_at = now() WHERE command_id = $1")
            .bind(cmd.command_id)
            .execute(&self.pool)
            .await?;
        tracing::info!(command = %cmd.command_id, order_id = %cmd.order_id,
            action = req.action.as_str(), by = %who.name, "saga command sent");
        Ok(CommandView {
            command_id: cmd.command_id.to_string(),
            action: req.action,
            step: cmd.step,
            phase: cmd.phase,
            reason: cmd.reason,
            requested_by: cmd.requested_by,
            requested_at,
            status: "sent".into(),
            detail: None,
            answered_at: None,
        })
    }

    async fn preview_batch(&self, filter: &OrderFilter) -> Result<BatchPreview, OpsError> {
        batch::preview(&self.pool, filter).await
    }

    async fn start_batch(
        &self,
        who: &Principal,
        req: &BatchRequest,
    ) -> Result<BatchJobView, OpsError> {
        batch::start(&self.pool, who, req).await
    }

    async fn batches(&self, limit: i64) -> Result<Vec<BatchJobView>, OpsError> {
        Ok(batch::recent(&self.pool, limit).await?)
    }

    async fn cancel_batch(&self, who: &Principal, id: &str) -> Result<BatchJobView, OpsError> {
        batch::cancel(&self.pool, who, id).await
    }

    async fn set_enabled(
        &self,
        who: &Principal,
        action: SagaAction,
        enabled: bool,
    ) -> Result<(), OpsError> {
        let by = Actor::new(who.name.clone(), who.source.clone());
        Ok(settings::set_saga_action(&self.pool, &by, action, enabled).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_agree() {
        let page: Vec<&str> = SagaAction::ALL.iter().map(|a| a.as_str()).collect();
        let contract: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(page, contract);
        for a in SagaAction::ALL {
            assert_eq!(contract_action(a).label(), a.label());
        }
    }
}
