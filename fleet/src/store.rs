//! The fleet's database: its own PostgreSQL schema (`fleet`) with its own migrations
//! (`fleet/migrations/`), so the services never touch the console's read model and the
//! two can live in one database or two.

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use std::str::FromStr;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connects with `search_path = fleet` (creating the schema) and migrates it.
pub async fn connect(url: &str) -> anyhow::Result<PgPool> {
    connect_with(PgConnectOptions::from_str(url)?).await
}

/// [`connect`] with options already parsed.
pub async fn connect_with(base: PgConnectOptions) -> anyhow::Result<PgPool> {
    let mut admin = base.connect().await?;
    // `CREATE SCHEMA IF NOT EXISTS` is not safe against itself: two processes creating the
    // schema at the same moment (a fleet started as several processes on a new database)
    // can both pass the check, and the second fails on the catalog's unique index. One at
    // a time, under a transaction-scoped advisory lock.
    let mut tx = admin.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('switchyard-fleet schema'))")
        .execute(&mut *tx)
        .await?;
    sqlx::query("CREATE SCHEMA IF NOT EXISTS fleet")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    drop(admin);
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect_with(base.options([("search_path", "fleet")]))
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}
