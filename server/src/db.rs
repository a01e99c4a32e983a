//! The PostgreSQL pool and the schema migrations (`migrations/`, embedded at compile time).

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::time::Duration;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Connects and brings the schema up to date, with the default pool (16 connections, a
/// 30 s statement timeout). Several instances may start at once: sqlx serialises
/// migrations with an advisory lock.
pub async fn connect(url: &str) -> anyhow::Result<PgPool> {
    connect_with(url, 16, 30_000).await
}

/// [`connect`] with `max` connections whose statements PostgreSQL cancels after
/// `statement_timeout_ms` (0: never), so one slow query cannot hold a connection for ever.
/// Migrations run first on a connection of their own, without the timeout (an index on a
/// large table may take minutes).
pub async fn connect_with(
    url: &str,
    max: u32,
    statement_timeout_ms: u64,
) -> anyhow::Result<PgPool> {
    use sqlx::Connection;
    let unreachable = |e: sqlx::Error| anyhow::anyhow!("cannot connect to PostgreSQL: {e}");
    let options: PgConnectOptions = url.parse().map_err(unreachable)?;
    let mut migrating = sqlx::PgConnection::connect_with(&options)
        .await
        .map_err(unreachable)?;
    MIGRATOR.run(&mut migrating).await?;
    let _ = migrating.close().await;
    let options = if statement_timeout_ms > 0 {
        options.options([("statement_timeout", statement_timeout_ms.to_string())])
    } else {
        options
    };
    PgPoolOptions::new()
        .max_connections(max.max(2))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(unreachable)
}

/// `url` with its database name replaced by `db` (query parameters kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let base = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    format!("{base}/{db}{query}")
}

/// Creates a fresh, migrated database named `<prefix>_<uuid>` on the server of
/// `admin_url`; returns its URL, name and pool. For tests and benchmarks.
pub async fn create_scratch(
    admin_url: &str,
    prefix: &str,
) -> anyhow::Result<(String, String, PgPool)> {
    use sqlx::Connection;
    let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let url = with_database(admin_url, &name);
    let pool = connect(&url).await?;
    Ok((url, name, pool))
}

/// Drops a database made by [`create_scratch`].
pub async fn drop_scratch(admin_url: &str, name: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_is_swapped_in_urls() {
        assert_eq!(
            super::with_database("postgres://u@h:1/postgres?sslmode=disable", "x"),
            "postgres://u@h:1/x?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgres://u@h:1", "x"),
            "postgres://u@h:1/x"
        );
    }
}
