//! Who may do what: sessions (tower-sessions, stored in PostgreSQL so they survive restarts
//! and work across instances), users with argon2 password hashes, the roles viewer /
//! operator / admin enforced by one layer in front of every route, CSRF tokens, login rate
//! limits, the write kill-switch and the security headers.
//!
//! Entry points: [`Auth::layers`] wraps the router; [`routes`] adds the login and logout
//! handlers; [`policy::access`] is the table of what each request needs.

pub mod csrf;
pub mod guard;
pub mod headers;
pub mod limiter;
pub mod login;
pub mod password;
pub mod policy;
pub mod settings;
pub mod users;

use crate::config::AuthConfig;
use axum::routing::{get, post, MethodRouter};
use limiter::LoginLimiter;
use sqlx::PgPool;
use std::time::Duration;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;
use users::Account;

/// Session keys.
pub const SESSION_USER: &str = "user";
pub const SESSION_CSRF: &str = "csrf";
pub const COOKIE_NAME: &str = "switchyard_session";

/// What the auth layer and the login handlers share.
#[derive(Clone)]
pub struct Auth {
    pub pool: PgPool,
    pub limiter: LoginLimiter,
    pub config: AuthConfig,
}

impl Auth {
    /// Creates the session table if needed and starts pruning expired sessions and limiter
    /// keys in the background.
    pub async fn start(
        pool: PgPool,
        config: AuthConfig,
    ) -> anyhow::Result<(Self, SessionManagerLayer<PostgresStore>)> {
        let store = PostgresStore::new(pool.clone());
        store.migrate().await?;
        let pruned = store.clone();
        tokio::spawn(async move {
            use tower_sessions::ExpiredDeletion;
            if let Err(e) = pruned
                .continuously_delete_expired(Duration::from_secs(300))
                .await
            {
                tracing::warn!(error = %e, "expired-session pruning stopped");
            }
        });
        let limiter = LoginLimiter::new(
            config.login_attempts,
            Duration::from_secs(config.login_window_secs),
        );
        let shrink = limiter.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                shrink.shrink();
            }
        });
        let idle = time::Duration::seconds(config.session_idle_secs as i64);
        let sessions = SessionManagerLayer::new(store)
            .with_name(COOKIE_NAME)
            .with_http_only(true)
            .with_same_site(SameSite::Strict)
            .with_secure(config.secure_cookies)
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(idle))
            .with_always_save(true);
        Ok((
            Auth {
                pool,
                limiter,
                config,
            },
            sessions,
        ))
    }

    /// The signed-in user's account and whether writes are on, in one round trip.
    pub async fn account_and_switch(&self, name: &str) -> sqlx::Result<Option<(Account, bool)>> {
        let row: Option<(String, String, bool, Option<serde_json::Value>)> = sqlx::query_as(
            "SELECT u.name, u.role, u.disabled,
                    (SELECT value FROM settings WHERE key = 'writes_enabled')
             FROM users u WHERE u.name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(name, role, disabled, writes)| {
            let account = Account {
                name,
                role: role.parse().ok()?,
                disabled,
            };
            Some((account, writes.and_then(|v| v.as_bool()).unwrap_or(true)))
        }))
    }
}

/// The login page and the sign-in / sign-out form targets.
pub fn routes<S>() -> Vec<(&'static str, MethodRouter<S>)>
where
    S: Clone + Send + Sync + 'static,
    Auth: axum::extract::FromRef<S>,
{
    vec![
        (policy::LOGIN_PAGE, get(login::page)),
        (policy::LOGIN_PATH, post(login::login)),
        (policy::LOGOUT_PATH, post(login::logout)),
    ]
}
