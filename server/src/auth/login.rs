//! Signing in and out. The login page is plain server-rendered HTML (it must work before
//! any session, script or hydration exists), posting a form with the pre-login session's
//! CSRF token. A successful login rotates the session id (no fixation), stores the user,
//! issues a fresh CSRF token and goes back to where the user was headed.
//!
//! Failures say the same thing whatever went wrong, so the page reveals nothing about
//! which accounts exist; the audit log records the detail.

use super::guard::{client_address, ensure_csrf};
use super::{csrf, password, users, Auth, SESSION_CSRF, SESSION_USER};
use crate::audit::{self, Actor};
use axum::body::{to_bytes, Body};
use axum::extract::{Query, State};
use axum::http::{header, Request, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use switchyard_app::ops::escape_html as escape;
use tower_sessions::Session;

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn page(session: Session, Query(q): Query<LoginQuery>) -> Response {
    let token = match ensure_csrf(&session).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    render(StatusCode::OK, &token, q.next.as_deref(), None)
}

pub async fn login(State(auth): State<Auth>, session: Session, req: Request<Body>) -> Response {
    let source = client_address(&req);
    let body = match to_bytes(req.into_body(), 16 * 1024).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response(),
    };
    let field = |name: &str| csrf::form_field(&body, name).unwrap_or_default();
    let (name, pass, next) = (field("name"), field("password"), field("next"));
    let expected: Option<String> = session.get(SESSION_CSRF).await.ok().flatten();
    let token = match expected {
        Some(t) if csrf::same(&t, &field("csrf")) => t,
        _ => {
            // No pre-login session (cookie blocked or expired) or a forged form.
            let fresh = match ensure_csrf(&session).await {
                Ok(t) => t,
                Err(resp) => return resp,
            };
            return render(
                StatusCode::FORBIDDEN,
                &fresh,
                Some(&next),
                Some("The form expired. Please sign in again."),
            );
        }
    };
    if let Err(wait) = auth.limiter.attempt(&name, &source) {
        let actor = Actor::new(name.clone(), source.clone());
        let _ = audit::record(
            &auth.pool,
            &actor,
            "login_throttled",
            Some(&name),
            json!({}),
        )
        .await;
        let secs = wait.as_secs().max(1);
        let mut resp = render(
            StatusCode::TOO_MANY_REQUESTS,
            &token,
            Some(&next),
            Some(&format!(
                "Too many sign-in attempts. Try again in {secs} s."
            )),
        );
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            secs.to_string().parse().expect("digits"),
        );
        return resp;
    }
    let account = match users::credentials(&auth.pool, &name).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "login lookup failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the user database is unavailable",
            )
                .into_response();
        }
    };
    let candidate = pass.clone();
    let stored = account.as_ref().map(|(_, h)| h.clone());
    let matches =
        tokio::task::spawn_blocking(move || password::verify(&candidate, stored.as_deref()))
            .await
            .unwrap_or(false);
    let actor = Actor::new(name.clone(), source.clone());
    let account = match account {
        Some((a, _)) if matches && !a.disabled => a,
        other => {
            let why = match other {
                None => "unknown user",
                Some((a, _)) if a.disabled => "disabled",
                Some(_) => "wrong password",
            };
            let _ = audit::record(
                &auth.pool,
                &actor,
                "login_failed",
                Some(&name),
                json!({ "why": why }),
            )
            .await;
            return render(
                StatusCode::UNAUTHORIZED,
                &token,
                Some(&next),
                Some("Invalid name or password."),
            );
        }
    };
    // New id for the signed-in session: a token planted before login is worthless after.
    if session.cycle_id().await.is_err()
        || session.insert(SESSION_USER, &account.name).await.is_err()
        || session
            .insert(SESSION_CSRF, csrf::new_token())
            .await
            .is_err()
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the session store is unavailable",
        )
            .into_response();
    }
    let _ = audit::record(
        &auth.pool,
        &actor,
        "login",
        Some(&account.name),
        json!({ "role": account.role }),
    )
    .await;
    Redirect::to(safe_next(&next)).into_response()
}

pub async fn logout(State(auth): State<Auth>, session: Session, req: Request<Body>) -> Response {
    let source = client_address(&req);
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

fn render(status: StatusCode, token: &str, next: Option<&str>, error: Option<&str>) -> Response {
    let next = safe_next(next.unwrap_or("/"));
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
<input type="hidden" name="csrf" value="{token}">
<input type="hidden" name="next" value="{next}">
<label for="name">Name</label>
<input id="name" name="name" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button class="btn primary" type="submit">Sign in</button>
</form>
</main>
</body>
</html>"#,
        action = super::policy::LOGIN_PATH,
        token = escape(token),
        next = escape(next),
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
