//! Who may do what: sessions (tower-sessions, stored in PostgreSQL so they survive restarts
//! and work across instances), users with argon2 password hashes, the roles viewer /
//! operator / admin enforced by one layer in front of every route, CSRF tokens, login rate
//! limits, the write kill-switch and the security headers.
//!
//! Entry points: [`Auth::layers`] wraps the router; [`routes`] adds the login and logout
//! handlers; [`policy::access`] is the table of what each request needs.

pub mod cookies;
pub mod csrf;
pub mod guard;
pub mod headers;
pub mod limiter;
pub mod login;
pub mod oidc;
pub mod password;
pub mod policy;
pub mod settings;
pub mod users;

use crate::config::AuthConfig;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use limiter::LoginLimiter;
use sqlx::PgPool;
use std::time::Duration;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;
use users::Account;

/// Session keys.
pub const SESSION_USER: &str = "user";
pub const SESSION_CSRF: &str = "csrf";
/// When the session was signed in (unix seconds): the absolute lifetime counts from here.
pub const SESSION_SINCE: &str = "since";
/// When the session was last touched (unix seconds), so an idle timeout can be extended
/// without writing the session on every request.
pub const SESSION_SEEN: &str = "seen";
/// The user's `session_epoch` at sign-in: a password change or a disable moves it on and
/// ends every session signed in before.
pub const SESSION_EPOCH: &str = "epoch";
pub const COOKIE_NAME: &str = "switchyard_session";

/// What the auth layer and the login handlers share.
#[derive(Clone)]
pub struct Auth {
    pub pool: PgPool,
    /// The session store, for checks outside a request (open push streams).
    pub store: PostgresStore,
    pub limiter: LoginLimiter,
    pub config: AuthConfig,
    /// Single sign-on, when an issuer is configured.
    pub oidc: Option<oidc::Oidc>,
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
            config.login_audit_per_min,
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
        let sessions = SessionManagerLayer::new(store.clone())
            .with_name(COOKIE_NAME)
            .with_http_only(true)
            .with_same_site(SameSite::Strict)
            .with_secure(config.secure())
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(idle));
        // Not `with_always_save`: a session is written only when it changes (sign-in, a
        // touch of `SESSION_SEEN`), so a stranger's cookie or page view stores nothing.
        Ok((
            Auth {
                oidc: oidc::Oidc::from_config(&config.oidc, config.public_url.as_deref())?,
                pool,
                store,
                limiter,
                config,
            },
            sessions,
        ))
    }

    /// The signed-in user's account, session epoch and whether writes are on, in one
    /// round trip.
    pub async fn account_and_switch(&self, name: &str) -> sqlx::Result<Option<Signed>> {
        let row: Option<(String, String, bool, i64, Option<serde_json::Value>)> = sqlx::query_as(
            "SELECT u.name, u.role, u.disabled, u.session_epoch,
                        (SELECT value FROM settings WHERE key = 'writes_enabled')
                 FROM users u WHERE u.name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.and_then(|(name, role, disabled, session_epoch, writes)| {
                let account = Account {
                    name,
                    role: role.parse().ok()?,
                    disabled,
                    session_epoch,
                };
                Some(Signed {
                    account,
                    writes_enabled: writes.and_then(|v| v.as_bool()).unwrap_or(true),
                })
            }),
        )
    }
}

impl Auth {
    /// Whether a session signed in at `since` under `at_epoch` may go on, the user's epoch
    /// being `epoch` now: no password change or disable since, within the absolute lifetime.
    pub fn session_valid(&self, since: i64, at_epoch: i64, epoch: i64) -> bool {
        at_epoch == epoch && unix_now().saturating_sub(since) < self.config.session_max_secs as i64
    }

    /// Whether the session `id` is still signed in as `user` (for streams that outlive
    /// their request). A database that does not answer counts as yes: a blip must not cut
    /// every stream.
    pub async fn still_signed_in(&self, id: &tower_sessions::session::Id, user: &str) -> bool {
        use tower_sessions::SessionStore;
        let record = match self.store.load(id).await {
            Ok(Some(r)) => r,
            Ok(None) => return false,
            Err(_) => return true,
        };
        let key = |k: &str| record.data.get(k).and_then(|v| v.as_i64());
        let same_user = record.data.get(SESSION_USER).and_then(|v| v.as_str()) == Some(user);
        let (Some(since), Some(at_epoch)) = (key(SESSION_SINCE), key(SESSION_EPOCH)) else {
            return false;
        };
        if !same_user || record.expiry_date < time::OffsetDateTime::now_utc() {
            return false;
        }
        match self.account_and_switch(user).await {
            Ok(Some(s)) => {
                !s.account.disabled && self.session_valid(since, at_epoch, s.account.session_epoch)
            }
            Ok(None) => false,
            Err(_) => true,
        }
    }
}

/// A signed-in user as the auth layer reads it on every request.
pub struct Signed {
    pub account: Account,
    pub writes_enabled: bool,
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Signs `name` in on `session`: a new id (a token planted before is worthless after), the
/// user, the sign-in time, the user's session epoch (as the caller read it with the user)
/// and a fresh CSRF token. Used by every way in (password, OIDC).
pub async fn start_session(session: &Session, name: &str, epoch: i64) -> Result<(), Response> {
    let now = unix_now();
    let stored = async {
        session.cycle_id().await?;
        session.insert(SESSION_USER, name).await?;
        session.insert(SESSION_SINCE, now).await?;
        session.insert(SESSION_SEEN, now).await?;
        session.insert(SESSION_EPOCH, epoch).await?;
        session.insert(SESSION_CSRF, csrf::new_token()).await
    };
    stored
        .await
        .map_err(|_| unavailable("the session store is unavailable"))
}

/// A 503 saying what is unavailable, with `Retry-After` (a database blip passes).
pub fn unavailable(why: &'static str) -> Response {
    let mut resp = (StatusCode::SERVICE_UNAVAILABLE, why).into_response();
    retry_after(&mut resp, Duration::from_secs(5));
    resp
}

/// Says in `Retry-After` when to try again: `wait` in whole seconds, at least one. Every
/// 429 and 503 the console gives sets it here.
pub fn retry_after(resp: &mut Response, wait: Duration) {
    let secs = wait.as_secs().max(1);
    resp.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(secs),
    );
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
        (oidc::START_PATH, get(oidc::start)),
        (oidc::CALLBACK_PATH, get(oidc::callback)),
    ]
}
