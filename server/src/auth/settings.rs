//! The write kill-switch: one admin action turns every state change off (replays,
//! discards, fault and user changes) until it is turned back on. The auth layer consults it
//! on every write, so no handler can forget to.

use crate::audit::{self, Actor};
use serde_json::json;
use sqlx::PgPool;

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
