//! The auth layer in front of every route: resolves the session to a user, applies the
//! [`policy`](super::policy) (role, CSRF, kill-switch) and hands the handlers a
//! [`Principal`] and a [`SessionView`] in the request extensions.
//!
//! Invariant: no request reaches a handler other than the public few without a live
//! session of an enabled user whose role the policy accepts; no state change reaches one
//! without a matching CSRF token.

use super::policy::{self, Access, LOGIN_PAGE};
use super::{csrf, Auth, SESSION_CSRF, SESSION_EPOCH, SESSION_SEEN, SESSION_SINCE, SESSION_USER};
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::net::{IpAddr, SocketAddr};
use switchyard_app::auth::{Principal, Role, SessionView};
use tower_sessions::Session;

pub async fn guard(
    State(auth): State<Auth>,
    session: Session,
    mut req: Request<Body>,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let access = policy::access(&method, &path);
    if access == Access::Public {
        return next.run(req).await;
    }
    if access == Access::Scrape && scraper_token_ok(&auth, &req) {
        return next.run(req).await;
    }
    let user: Option<String> = session.get(SESSION_USER).await.ok().flatten();
    let Some(user) = user else {
        return unauthenticated(&req);
    };
    let found = match auth.account_and_switch(&user).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "auth lookup failed");
            return super::unavailable("the user database is unavailable");
        }
    };
    let Some(signed) = found.filter(|s| !s.account.disabled) else {
        let _ = session.flush().await;
        return unauthenticated(&req);
    };
    if !session_current(&auth, &session, signed.account.session_epoch).await {
        let _ = session.flush().await;
        return unauthenticated(&req);
    }
    let (account, writes_enabled) = (signed.account, signed.writes_enabled);
    let token = match ensure_csrf(&session).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    match access {
        Access::Public => unreachable!("handled above"),
        Access::Unclassified => {
            return forbidden("this request changes state but has no access class; refused")
        }
        Access::Read(role) if !account.role.allows(role) => return forbidden_role(role),
        Access::Read(_) | Access::Scrape => {}
        Access::Write { role, .. } if !account.role.allows(role) => return forbidden_role(role),
        Access::Write {
            kill_switch_exempt, ..
        } => {
            req = match csrf::check(req, &token).await {
                Ok(req) => req,
                Err(why) => {
                    tracing::warn!(user = %account.name, %path, ?why, "CSRF check refused");
                    return forbidden("CSRF token missing or wrong; reload the page and try again");
                }
            };
            if !kill_switch_exempt && !writes_enabled {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "writes are switched off by an admin (kill-switch)",
                )
                    .into_response();
            }
        }
    }
    let source = client_address(&req, &auth.config.trusted_proxies);
    req.extensions_mut().insert(Principal {
        name: account.name.clone(),
        role: account.role,
        source,
    });
    req.extensions_mut().insert(SessionView {
        name: account.name,
        role: account.role,
        csrf: token,
        writes_enabled,
    });
    next.run(req).await
}

/// Whether the request carries the configured scraper token (`Authorization: Bearer …`,
/// compared in constant time). No token configured: never.
fn scraper_token_ok(auth: &Auth, req: &Request<Body>) -> bool {
    let Some(expected) = auth
        .config
        .metrics_token
        .as_deref()
        .filter(|t| !t.is_empty())
    else {
        return false;
    };
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| csrf::same(given.trim(), expected))
}

/// Whether a signed-in session may go on: signed in under the user's current epoch (no
/// password change or disable since) and within the absolute lifetime. Touches the session
/// once a minute so the idle timeout counts from the last request, not from sign-in.
async fn session_current(auth: &Auth, session: &Session, epoch: i64) -> bool {
    let get = |key: &'static str| async move { session.get::<i64>(key).await.ok().flatten() };
    let now = super::unix_now();
    let (Some(since), Some(seen), Some(at_epoch)) = (
        get(SESSION_SINCE).await,
        get(SESSION_SEEN).await,
        get(SESSION_EPOCH).await,
    ) else {
        return false; // signed in before these keys existed, or tampered with: sign in again
    };
    if !auth.session_valid(since, at_epoch, epoch) {
        return false;
    }
    let touch_every = (auth.config.session_idle_secs as i64 / 2).clamp(1, 60);
    if now.saturating_sub(seen) >= touch_every {
        let _ = session.insert(SESSION_SEEN, now).await;
    }
    true
}

/// The session's CSRF token, created on first use.
pub async fn ensure_csrf(session: &Session) -> Result<String, Response> {
    match session.get::<String>(SESSION_CSRF).await {
        Ok(Some(t)) => Ok(t),
        Ok(None) => {
            let t = csrf::new_token();
            session
                .insert(SESSION_CSRF, &t)
                .await
                .map_err(|_| session_unavailable())?;
            Ok(t)
        }
        Err(_) => Err(session_unavailable()),
    }
}

fn session_unavailable() -> Response {
    super::unavailable("the session store is unavailable")
}

/// The client address for rate limits and the audit log: the peer's; or, when the peer is
/// a trusted proxy, the nearest address in `X-Forwarded-For` that is not one (proxies
/// append, so what a client wrote itself is further left and never chosen over it).
pub fn client_address(req: &Request<Body>, trusted: &[IpAddr]) -> String {
    let Some(peer) = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip())
    else {
        return "unknown".into();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|a| !trusted.contains(a))
        .unwrap_or(&peer)
        .to_string()
}

/// Pages send the browser to the login form (and back afterwards); everything else gets 401.
fn unauthenticated(req: &Request<Body>) -> Response {
    let wants_page = req.method() == Method::GET
        && !req.uri().path().starts_with("/api/")
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    if wants_page {
        let next = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let target: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("next", next)
            .finish();
        return Redirect::to(&format!("{LOGIN_PAGE}?{target}")).into_response();
    }
    (StatusCode::UNAUTHORIZED, "sign in first").into_response()
}

fn forbidden(why: &'static str) -> Response {
    (StatusCode::FORBIDDEN, why).into_response()
}

fn forbidden_role(needed: Role) -> Response {
    (
        StatusCode::FORBIDDEN,
        format!("forbidden: this needs the {needed} role"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(peer: &str, xff: &[&str]) -> Request<Body> {
        let mut r = Request::get("/").body(Body::empty()).unwrap();
        for v in xff {
            r.headers_mut()
                .append("x-forwarded-for", v.parse().unwrap());
        }
        r.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 1)));
        r
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        // A stranger's own header is ignored.
        assert_eq!(
            client_address(&req("203.0.113.9", &["1.2.3.4"]), &[proxy]),
            "203.0.113.9"
        );
        // Through the proxy: the address it appended, not what the client wrote before it.
        assert_eq!(
            client_address(&req("10.0.0.1", &["1.2.3.4, 198.51.100.7"]), &[proxy]),
            "198.51.100.7"
        );
        assert_eq!(
            client_address(
                &req("10.0.0.1", &["1.2.3.4", "198.51.100.7, 10.0.0.1"]),
                &[proxy]
            ),
            "198.51.100.7"
        );
        // No usable header: the proxy itself.
        assert_eq!(
            client_address(&req("10.0.0.1", &["garbage"]), &[proxy]),
            "10.0.0.1"
        );
        assert_eq!(client_address(&req("10.0.0.1", &[]), &[]), "10.0.0.1");
    }
}
