//! The PostgreSQL pool and the schema migrations (`migrations/`, embedded at compile time).

use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Connects and brings the schema up to date. Several instances may start at once:
/// sqlx serialises migrations with an advisory lock.
pub async fn connect(url: &str) -> anyhow::Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to PostgreSQL: {e}"))?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}
