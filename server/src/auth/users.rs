//! Console users: add, change role, reset password, disable, list. Every change writes its
//! audit row in the same transaction, so the log never misses one and never shows one that
//! did not happen.

use super::password;
use crate::audit::{self, Actor};
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use switchyard_app::auth::Role;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub name: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A user as the auth layer sees one on each request.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    /// Moves on with a password change or a disable; a session signed in under an older
    /// one is over.
    pub session_epoch: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("a user named {0:?} already exists")]
    Exists(String),
    #[error("no user named {0:?}")]
    Missing(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub fn validate_name(name: &str) -> Result<(), UserError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(UserError::Invalid(
            "a user name is 1 to 64 letters, digits or _ . @ -".into(),
        ))
    }
}

pub async fn add(
    pool: &PgPool,
    by: &Actor,
    name: &str,
    role: Role,
    password: &str,
) -> Result<(), UserError> {
    validate_name(name)?;
    password::check_strength(password).map_err(UserError::Invalid)?;
    let hash = password::hash(password)?;
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO users (name, password_hash, role) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(&hash)
    .bind(role.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(UserError::Exists(name.into()));
    }
    audit::record(
        &mut *tx,
        by,
        "user_add",
        Some(name),
        json!({ "role": role }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sets role, disabled flag and/or password of an existing user.
pub async fn update(
    pool: &PgPool,
    by: &Actor,
    name: &str,
    role: Option<Role>,
    disabled: Option<bool>,
    password: Option<&str>,
) -> Result<(), UserError> {
    let hash = match password {
        Some(p) => {
            password::check_strength(p).map_err(UserError::Invalid)?;
            Some(password::hash(p)?)
        }
        None => None,
    };
    let mut tx = pool.begin().await?;
    let changed = sqlx::query(
        // A new password or a disable ends the user's sessions (guard checks the epoch).
        "UPDATE users SET role = COALESCE($2, role), disabled = COALESCE($3, disabled),
                password_hash = COALESCE($4, password_hash), updated_at = now(),
                session_epoch = session_epoch
                    + CASE WHEN $4::text IS NOT NULL OR $3::boolean IS TRUE THEN 1 ELSE 0 END
         WHERE name = $1",
    )
    .bind(name)
    .bind(role.map(Role::as_str))
    .bind(disabled)
    .bind(&hash)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(UserError::Missing(name.into()));
    }
    let detail = json!({ "role": role, "disabled": disabled, "password_changed": hash.is_some() });
    audit::record(&mut *tx, by, "user_change", Some(name), detail).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<UserRow>> {
    sqlx::query_as("SELECT name, role, disabled, created_at, updated_at FROM users ORDER BY name")
        .fetch_all(pool)
        .await
}

/// The account and its password hash, for login.
pub async fn credentials(pool: &PgPool, name: &str) -> sqlx::Result<Option<(Account, String)>> {
    let row: Option<(String, String, bool, i64, String)> = sqlx::query_as(
        "SELECT name, role, disabled, session_epoch, password_hash FROM users WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(name, role, disabled, session_epoch, hash)| {
        let role = role.parse().ok()?;
        Some((
            Account {
                name,
                role,
                disabled,
                session_epoch,
            },
            hash,
        ))
    }))
}

/// The account behind a session, read on every request so a role change or a disable
/// takes effect at once.
pub async fn account(pool: &PgPool, name: &str) -> sqlx::Result<Option<Account>> {
    Ok(credentials(pool, name).await?.map(|(a, _)| a))
}

/// What a single sign-on found of its user.
#[derive(Debug, PartialEq, Eq)]
pub enum External {
    /// Created now, or known from an earlier single sign-on (role set to the mapped one);
    /// with the user's session epoch.
    Ready(i64),
    /// A local user holds the name: single sign-on does not take it over.
    LocalUser,
    Disabled,
}

/// Creates `name` as a single-sign-on user with `role` (no usable password), or brings an
/// earlier one's role in line with the provider's groups; audited when anything changes.
pub async fn upsert_external(
    pool: &PgPool,
    by: &Actor,
    name: &str,
    role: Role,
) -> sqlx::Result<External> {
    let mut tx = pool.begin().await?;
    let found: Option<(String, String, bool, i64)> = sqlx::query_as(
        "SELECT origin, role, disabled, session_epoch FROM users WHERE name = $1 FOR UPDATE",
    )
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    let outcome = match found {
        None => {
            let epoch: i64 = sqlx::query_scalar(
                "INSERT INTO users (name, password_hash, role, origin) VALUES ($1, '!', $2, 'oidc')
                 RETURNING session_epoch",
            )
            .bind(name)
            .bind(role.as_str())
            .fetch_one(&mut *tx)
            .await?;
            audit::record(
                &mut *tx,
                by,
                "user_add",
                Some(name),
                json!({ "role": role, "origin": "oidc" }),
            )
            .await?;
            External::Ready(epoch)
        }
        Some((origin, ..)) if origin != "oidc" => External::LocalUser,
        Some((_, _, true, _)) => External::Disabled,
        Some((_, old, _, epoch)) if old != role.as_str() => {
            sqlx::query("UPDATE users SET role = $2, updated_at = now() WHERE name = $1")
                .bind(name)
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
            audit::record(
                &mut *tx,
                by,
                "user_change",
                Some(name),
                json!({ "role": role, "from": old, "by": "oidc groups" }),
            )
            .await?;
            External::Ready(epoch)
        }
        Some((.., epoch)) => External::Ready(epoch),
    };
    tx.commit().await?;
    Ok(outcome)
}
