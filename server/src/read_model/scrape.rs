//! What `/metrics` reads at scrape time: ingest lag (the console's lag query), breaker
//! states and replay-job counts — handed to [`crate::metrics::set_figures`], which knows
//! nothing of where they came from.

use super::PgConsole;
use crate::metrics::Figures;
use sqlx::PgPool;

pub async fn figures(pool: &PgPool, console: &PgConsole) -> sqlx::Result<Figures> {
    Ok(Figures {
        lag: console.lag().await?,
        breakers: sqlx::query_as("SELECT service, breaker, state FROM breakers")
            .fetch_all(pool)
            .await?,
        jobs: sqlx::query_as(
            "SELECT status, count(*)::int8,
                    coalesce(sum(GREATEST(total - sent - skipped - parked - failed - cancelled, 0)), 0)::int8
             FROM replay_jobs GROUP BY status",
        )
        .fetch_all(pool)
        .await?,
    })
}
