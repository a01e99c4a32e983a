//! The write kill-switch: one admin action turns every state change off (replays,
//! discards, fault and user changes) until it is turned back on. The auth layer consults it
//! on every write, so no handler can forget to. Beside it, the switch per saga action
//! (retry step, force compensation, terminate), which the saga actions check before sending.

use crate::audit::{self, Actor};
use serde_json::json;
use sqlx::PgPool;
use switchyard_app::saga::SagaAction;

pub async fn writes_enabled(pool: &PgPool) -> sqlx::Result<bool> {
    let v: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = 'writes_enabled'")
            .fetch_optional(pool)
            .await?;
    Ok(v.and_then(|v| v.as_bool()).unwrap_or(true))
}

/// Turns writes on or off, with its audit row, in one transaction.
pub async fn set_writes_enabled(pool: &PgPool, by: &Actor, enabled: bool) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO settings (key, value, updated_by, updated_at)
         VALUES ('writes_enabled', to_jsonb($1::boolean), $2, now())
         ON CONFLICT (key) DO UPDATE
         SET value = EXCLUDED.value, updated_by = EXCLUDED.updated_by, updated_at = now()",
    )
    .bind(enabled)
    .bind(&by.name)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        by,
        "kill_switch",
        Some("writes_enabled"),
        json!({ "writes_enabled": enabled }),
    )
    .await?;
    tx.commit().await
}

/// The saga actions an admin switched off (issue 23): none by default.
pub async fn saga_actions_enabled(pool: &PgPool) -> sqlx::Result<Vec<SagaAction>> {
    let off: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = 'saga_actions_off'")
            .fetch_optional(pool)
            .await?;
    let off: Vec<String> = off
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    Ok(SagaAction::ALL
        .into_iter()
        .filter(|a| !off.iter().any(|o| o == a.as_str()))
        .collect())
}

/// Switches one saga action on or off, with its audit row, in one transaction (one upsert
/// of the list: the row's lock keeps two admins' changes from undoing each other).
pub async fn set_saga_action(
    pool: &PgPool,
    by: &Actor,
    action: SagaAction,
    enabled: bool,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO settings (key, value, updated_by, updated_at)
         VALUES ('saga_actions_off',
                 CASE WHEN $2 THEN '[]'::jsonb ELSE jsonb_build_array($1::text) END, $3, now())
         ON CONFLICT (key) DO UPDATE SET
             value = (SELECT COALESCE(jsonb_agg(a), '[]'::jsonb)
                        FROM jsonb_array_elements_text(settings.value) a WHERE a <> $1)
                     || CASE WHEN $2 THEN '[]'::jsonb ELSE jsonb_build_array($1::text) END,
             updated_by = EXCLUDED.updated_by, updated_at = now()",
    )
    .bind(action.as_str())
    .bind(enabled)
    .bind(&by.name)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        by,
        "saga_action_switch",
        Some(action.as_str()),
        json!({ "action": action.as_str(), "enabled": enabled }),
    )
    .await?;
    tx.commit().await
}
