//! Setting the fleet's faults, through the narrow interface its schema offers
//! (`fault_settings`, `set_fault`; migration `…_fault_interface.sql`): the one way the
//! fleet's CLI, its demo chaos and the console's admin page change a fault. The services
//! read the values back every half second ([`runtime`](crate::runtime)).

use sqlx::PgPool;

/// One known fault and its current value.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct FaultSetting {
    pub name: String,
    pub description: String,
    pub value: f64,
}

/// Every fault the fleet understands, in catalogue order, with its value (0 when unset).
pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<FaultSetting>> {
    sqlx::query_as("SELECT name, description, value FROM fault_settings")
        .fetch_all(pool)
        .await
}

/// Sets a fault; an unknown name is an error naming the known ones.
pub async fn set(pool: &PgPool, name: &str, value: f64) -> anyhow::Result<()> {
    match sqlx::query("SELECT set_fault($1, $2)")
        .bind(name)
        .bind(value)
        .execute(pool)
        .await
    {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("22023") => {
            let known: Vec<String> = list(pool)
                .await?
                .into_iter()
                .map(|f| format!("  {}: {}", f.name, f.description))
                .collect();
            anyhow::bail!(
                "unknown fault {name:?}; known faults:\n{}",
                known.join("\n")
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// A little background noise unless someone chose otherwise: 3 % declined cards, 2 %
/// poison notifications.
pub async fn set_defaults(pool: &PgPool) -> sqlx::Result<()> {
    for (name, value) in [
        ("payment_decline_rate", 0.03),
        ("notification_poison_rate", 0.02),
    ] {
        sqlx::query("SELECT set_fault($1, $2, true)")
            .bind(name)
            .bind(value)
            .execute(pool)
            .await?;
    }
    Ok(())
}
