//! Signing in and out. The login page is plain server-rendered HTML (it must work before
//! any session, script or hydration exists). No session exists before sign-in: the form's
//! CSRF token is a double-submit cookie ([`csrf::LOGIN_COOKIE`], `SameSite=Strict`,
//! `HttpOnly`) echoed by a hidden field, and a cross-origin `Origin` is refused, so an
//! anonymous client stores nothing on the server by looking at the page. A successful
//! sign-in creates the session (a fresh id: no fixation), stores the user, the time and the
//! user's session epoch, issues a fresh CSRF token and goes back to where the user was
//! headed.
//!
//! Failures say the same thing whatever went wrong, so the page reveals nothing about which
//! accounts exist; the audit log records the detail, within a budget
//! ([`LoginLimiter::may_audit`](super::limiter::LoginLimiter::may_audit)) and with the
//! submitted name capped, so strangers cannot grow the append-only log at will.

use super::guard::client_address;
use super::limiter::Verdict;
use super::{csrf, password, users, Auth, SESSION_USER};
use crate::audit::{self, Actor};
use axum::body::{to_bytes, Body};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use switchyard_app::ops::escape_html as escape;
use tower_sessions::Session;

/// Largest sign-in form read.
const MAX_FORM: usize = 8 * 1024;

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn page(
    State(auth): State<Auth>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let token = csrf::login_cookie(&headers).unwrap_or_else(csrf::new_token);
    let mut resp = render(&auth, StatusCode::OK, &token, q.next.as_deref(), None);
    set_login_cookie(&mut resp, &token, auth.config.secure());
    resp
}

pub async fn login(State(auth): State<Auth>, session: Session, req: Request<Body>) -> Response {
    let source = client_address(&req, &auth.config.trusted_proxies);
    let cookie = csrf::login_cookie(req.headers());
    let cross_origin = csrf::cross_origin(req.headers(), auth.config.public_url.as_deref());
    let body = match to_bytes(req.into_body(), MAX_FORM).await {
        Ok(b) => b,
        Err(_) => {
            crate::metrics::refused("body_too_large");
            return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
        }
    };
    let field = |name: &str| csrf::form_field(&body, name).unwrap_or_default();
    let (name, pass, next) = (field("name"), field("password"), field("next"));
    let token = match cookie {
        Some(t) if !cross_origin && csrf::same(&t, &field("csrf")) => t,
        _ => {
            // No cookie (blocked or expired), a forged form, or another origin's page.
            return render_login(
                &auth,
                StatusCode::FORBIDDEN,
                Some(&next),
                Some("The form expired. Please sign in again."),
            );
        }
    };
    let actor = Actor::new(audit_name(&name), source.clone());
    let wait = match auth.limiter.attempt(&name, &source) {
        Verdict::Allowed => None,
        Verdict::Throttled(wait) => Some(wait),
        Verdict::Backstop(wait) => match signed_in_from(&auth, &name, &source).await {
            Ok(true) => None,
            Ok(false) => Some(wait),
            Err(resp) => return resp,
        },
    };
    if let Some(wait) = wait {
        auth.limiter.note_throttled();
        return throttled(&auth, &token, &next, wait);
    }
    let valid = users::validate_name(&name).is_ok();
    let account = if valid {
        match users::credentials(&auth.pool, &name).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "login lookup failed");
                return super::unavailable("the user database is unavailable");
            }
        }
    } else {
        None
    };
    let candidate = pass.clone();
    let stored = account.as_ref().map(|(_, h)| h.clone());
    let matches =
        tokio::task::spawn_blocking(move || password::verify(&candidate, stored.as_deref()))
            .await
            .unwrap_or(false);
    let account = match account {
        Some((a, _)) if matches && !a.disabled && auth.config.local_passwords => a,
        other => {
            let why = match other {
                None if !valid => "not a possible user name",
                None => "unknown user",
                Some((a, _)) if a.disabled => "disabled",
                Some(_) if matches => "local passwords are switched off",
                Some(_) => "wrong password",
            };
            if auth.limiter.may_audit() {
                let _ = audit::record(
                    &auth.pool,
                    &actor,
                    "login_failed",
                    Some(&actor.name),
                    json!({ "why": why }),
                )
                .await;
            }
            return render(
                &auth,
                StatusCode::UNAUTHORIZED,
                &token,
                Some(&next),
                Some("Invalid name or password."),
            );
        }
    };
    if let Err(resp) = super::start_session(&session, &account.name, account.session_epoch).await {
        return resp;
    }
    let _ = audit::record(
        &auth.pool,
        &actor,
        "login",
        Some(&account.name),
        json!({ "role": account.role, "method": "password" }),
    )
    .await;
    let mut resp = Redirect::to(safe_next(&next)).into_response();
    clear_login_cookie(&mut resp, auth.config.secure());
    resp
}

/// Whether `name` has signed in from `source` in the last 30 days (the backstop's
/// exemption for the owner's usual address).
async fn signed_in_from(auth: &Auth, name: &str, source: &str) -> Result<bool, Response> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM audit_log WHERE actor = $1 AND action = 'login'
                        AND source = $2 AND at > now() - interval '30 days')",
    )
    .bind(name)
    .bind(source)
    .fetch_one(&auth.pool)
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "login history lookup failed");
        super::unavailable("the user database is unavailable")
    })
}

fn throttled(auth: &Auth, token: &str, next: &str, wait: Duration) -> Response {
    let mut resp = render(
        auth,
        StatusCode::TOO_MANY_REQUESTS,
        token,
        Some(next),
        Some(&format!(
            "Too many sign-in attempts. Try again in {} s.",
            wait.as_secs().max(1)
        )),
    );
    super::retry_after(&mut resp, wait);
    resp
}

/// The submitted name as the audit log keeps it: a possible user name as is; anything
/// else cut to 64 characters with control characters replaced, and marked.
pub fn audit_name(name: &str) -> String {
    if users::validate_name(name).is_ok() {
        return name.to_string();
    }
    let cut: String = name
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    format!("(invalid name, {} bytes) {cut}", name.len())
}

fn set_login_cookie(resp: &mut Response, token: &str, secure: bool) {
    let cookie = csrf::login_cookie_header(token, secure, 3600);
    resp.headers_mut().append(header::SET_COOKIE, cookie);
}

fn clear_login_cookie(resp: &mut Response, secure: bool) {
    let cookie = csrf::login_cookie_header("", secure, 0);
    resp.headers_mut().append(header::SET_COOKIE, cookie);
}

pub async fn logout(State(auth): State<Auth>, session: Session, req: Request<Body>) -> Response {
    let source = client_address(&req, &auth.config.trusted_proxies);
    if let Ok(Some(name)) = session.get::<String>(SESSION_USER).await {
        let _ = audit::record(
            &auth.pool,
            &Actor::new(name.clone(), source),
            "logout",
            Some(&name),
            json!({}),
        )
        .await;
    }
    let _ = session.flush().await;
    Redirect::to(super::policy::LOGIN_PAGE).into_response()
}

/// Only a local path: never another origin (`//host`, `/\host`, `https:`), so the login
/// form cannot be turned into an open redirect.
pub fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && !next.starts_with(super::policy::LOGIN_PAGE);
    if local {
        next
    } else {
        "/"
    }
}

/// The login page with a fresh form token (and its cookie): for failures found outside the
/// form (single sign-on).
pub fn render_login(
    auth: &Auth,
    status: StatusCode,
    next: Option<&str>,
    error: Option<&str>,
) -> Response {
    let token = csrf::new_token();
    let mut resp = render(auth, status, &token, next, error);
    set_login_cookie(&mut resp, &token, auth.config.secure());
    resp
}

fn render(
    auth: &Auth,
    status: StatusCode,
    token: &str,
    next: Option<&str>,
    error: Option<&str>,
) -> Response {
    let next = safe_next(next.unwrap_or("/"));
    let sso = auth
        .oidc
        .as_ref()
        .map(|o| {
            let target: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next)
                .finish();
            format!(
                r#"<p><a class="btn primary" data-testid="sso" href="{}?{}">Sign in with {}</a></p>"#,
                super::oidc::START_PATH,
                escape(&target),
                escape(o.label())
            )
        })
        .unwrap_or_default();
    let local = if auth.config.local_passwords {
        format!(
            r#"<input type="hidden" name="csrf" value="{token}">
<input type="hidden" name="next" value="{next}">
<label for="name">Name</label>
<input id="name" name="name" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button class="btn primary" type="submit">Sign in</button>"#,
            token = escape(token),
            next = escape(next),
        )
    } else {
        String::new()
    };
    let error = error
        .map(|e| {
            format!(
                r#"<p class="form-error" role="alert" data-testid="login-error">{}</p>"#,
                escape(e)
            )
        })
        .unwrap_or_default();
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Sign in · Switchyard</title>
<link rel="icon" type="image/svg+xml" href="/favicon.svg">
<link rel="stylesheet" href="/style/main.css">
</head>
<body>
<main class="login">
<form class="login-card" method="post" action="{action}">
<h1>Switchyard</h1>
<p class="muted">Sign in to the operations console.</p>
{error}
{sso}
{local}
</form>
</main>
</body>
</html>"#,
        action = super::policy::LOGIN_PATH,
        sso = sso,
        local = local,
    );
    let mut resp = (status, Html(html)).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_local_only() {
        assert_eq!(safe_next("/orders?status=failed"), "/orders?status=failed");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "",
            "/login?x",
            "/a\nb",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
