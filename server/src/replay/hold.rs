//! Breaker-aware replay: a job whose messages would run into a breaker that is not closed
//! holds, says so in its progress ("waiting: payment-gateway OPEN since 10:42:03"), and
//! resumes by itself when the breaker closes — replaying into an outage only parks the
//! messages again. Which breakers: the contract's service map for the job's target topics
//! ([`switchyard_contract::services`]), or the operator's own list (other teams' topics
//! are not in the map); an empty list never waits. The state is the breakers read model
//! (the latest transition ingest has seen).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use switchyard_contract::services;
use uuid::Uuid;

/// The most breakers one job may wait on.
pub const MAX_BREAKERS: usize = 20;

/// States in which a breaker lets no (or only trial) calls through.
const HOLDING_STATES: &[&str] = &["OPEN", "HALF_OPEN", "FORCED_OPEN"];

/// The breakers a job sending to `targets` waits on unless told otherwise, each once.
pub fn default_for<'a>(targets: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in targets {
        for b in services::breakers_behind(t) {
            if !out.iter().any(|o| o == b) {
                out.push(b.to_string());
            }
        }
    }
    out
}

/// Refuses a list no job should carry.
pub fn check(names: &[String]) -> Result<(), String> {
    if names.len() > MAX_BREAKERS {
        return Err(format!("at most {MAX_BREAKERS} breakers to wait on"));
    }
    match names
        .iter()
        .find(|n| n.is_empty() || n.len() > 200 || n.chars().any(|c| c.is_control() || c == ','))
    {
        Some(n) => Err(format!("{n:?} is not a breaker name")),
        None => Ok(()),
    }
}

/// A breaker holding a job back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holding {
    pub breaker: String,
    pub state: String,
    pub since: DateTime<Utc>,
}

impl Holding {
    /// The job's progress line while it waits.
    pub fn say(&self) -> String {
        format!("waiting: {}", self.describe())
    }

    /// The breaker, its state and since when (`payment-gateway OPEN since 10:42:03 UTC`).
    pub fn describe(&self) -> String {
        format!(
            "{} {} since {} UTC",
            self.breaker,
            self.state,
            self.since.format("%H:%M:%S")
        )
    }
}

/// The breakers `job` waits on, read from the job each time (so an operator's "stop
/// waiting" takes effect at once).
pub async fn breakers_of(conn: &mut PgConnection, job: Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT hold_breakers FROM replay_jobs WHERE id = $1")
        .bind(job)
        .fetch_optional(&mut *conn)
        .await
        .map(Option::unwrap_or_default)
}

/// The breaker among `names` that would hold a job now: the one not closed for longest.
/// A breaker the read model has never seen does not hold.
pub async fn holding_among<'e>(
    db: impl PgExecutor<'e>,
    names: &[String],
) -> sqlx::Result<Option<Holding>> {
    if names.is_empty() {
        return Ok(None);
    }
    let row: Option<(String, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT breaker, upper(state), state_at FROM breakers
         WHERE breaker = ANY ($1) AND upper(state) = ANY ($2)
         ORDER BY state_at, breaker LIMIT 1",
    )
    .bind(names)
    .bind(HOLDING_STATES)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(breaker, state, since)| Holding {
        breaker,
        state,
        since,
    }))
}

/// Records what the job's progress says about waiting (`None`: sending), and whether it
/// changed (the caller then announces the job).
pub async fn set_waiting(
    conn: &mut PgConnection,
    job: Uuid,
    waiting: Option<&str>,
) -> sqlx::Result<bool> {
    let changed = sqlx::query(
        "UPDATE replay_jobs SET waiting = $2,
            waiting_since = CASE WHEN $2::text IS NULL THEN NULL ELSE coalesce(waiting_since, now()) END
         WHERE id = $1 AND waiting IS DISTINCT FROM $2",
    )
    .bind(job)
    .bind(waiting)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(changed > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_follows_the_target_topics_consumers() {
        assert_eq!(
            default_for([
                "inventory.reserved",
                "inventory.reserved",
                "payment.completed"
            ]),
            ["payment-gateway", "carrier-api"]
        );
        assert!(default_for(["payments.DLT", "order.completed"]).is_empty());
    }

    #[test]
    fn an_operators_list_is_checked() {
        assert!(check(&["payment-gateway".into(), "acme/ledger".into()]).is_ok());
        assert!(check(&["x\u{7}".to_string()]).is_err());
        assert!(check(
            &(0..=MAX_BREAKERS)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
        )
        .is_err());
    }

    #[test]
    fn the_progress_line_names_breaker_state_and_time() {
        let h = Holding {
            breaker: "payment-gateway".into(),
            state: "OPEN".into(),
            since: "2026-12-05T10:42:03Z".parse().unwrap(),
        };
        assert_eq!(h.say(), "waiting: payment-gateway OPEN since 10:42:03 UTC");
    }
}
