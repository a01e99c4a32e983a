//! The audit log: one append-only row for every state change (login, replay, discard,
//! fault change, user change, kill-switch, assistant tool call), saying who, when, what and
//! from where.
//!
//! Writers pass their own executor so an audit row commits or rolls back with the change it
//! describes; the table refuses updates and deletes (see the auth migration).

use serde_json::Value;
use sqlx::{Executor, Postgres};

/// Who did something and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// A user name, or `system` for the server's own doing.
    pub name: String,
    /// The client address, or `cli` for the command line.
    pub source: String,
}

impl Actor {
    pub fn new(name: impl Into<String>, source: impl Into<String>) -> Self {
        Actor {
            name: name.into(),
            source: source.into(),
        }
    }

    pub fn system() -> Self {
        Actor::new("system", "server")
    }

    pub fn cli(name: impl Into<String>) -> Self {
        Actor::new(name, "cli")
    }
}

/// Appends one audit row and returns its id.
pub async fn record<'e, E>(
    exec: E,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    detail: Value,
) -> sqlx::Result<i64>
where
    E: Executor<'e, Database = Postgres>,
{
    sqlx::query_scalar(
        "INSERT INTO audit_log (actor, action, target, detail, source)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(&actor.name)
    .bind(action)
    .bind(target)
    .bind(detail)
    .bind(&actor.source)
    .fetch_one(exec)
    .await
}
