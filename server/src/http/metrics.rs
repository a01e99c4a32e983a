//! `/metrics` and the HTTP latency middleware that feeds it.
//!
//! A scrape needs either `Authorization: Bearer <SWITCHYARD_METRICS_TOKEN>` (for
//! Prometheus) or a signed-in session (for a person); the auth layer decides which
//! (see `auth::policy::Access::Scrape`), this module only answers.

use super::AppState;
use crate::metrics::{self, HttpLabels, CONTENT_TYPE};
use crate::read_model::PgConsole;
use axum::body::Body;
use axum::extract::{MatchedPath, State};
use axum::http::{header, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Instant;

pub async fn scrape(State(state): State<AppState>) -> Response {
    let console = PgConsole::with_live(
        state.pool.clone(),
        state.log_ends.clone(),
        state.hub.clone(),
    );
    match crate::read_model::scrape::figures(&state.pool, &console).await {
        Ok(figures) => metrics::set_figures(figures),
        // Still answer with what is counted in-process; the read-model series keep their
        // last values.
        Err(e) => tracing::warn!(error = %e, "metrics: read model unavailable"),
    }
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        metrics::global().encode(),
    )
        .into_response()
}

/// The route label for a request: the router's template (`/orders/{id}`), a server
/// function's fixed path, or `other` — never the raw path, so unknown URLs cannot create
/// series.
fn route_label(req: &Request<Body>) -> String {
    static SERVER_FNS: OnceLock<HashSet<String>> = OnceLock::new();
    let path = req.uri().path();
    let fns = SERVER_FNS.get_or_init(|| {
        leptos::server_fn::axum::server_fn_paths()
            .map(|(p, _)| p.to_string())
            .collect()
    });
    if fns.contains(path) {
        return path.to_string();
    }
    match req.extensions().get::<MatchedPath>() {
        Some(m) if !m.as_str().contains('*') => m.as_str().to_string(),
        _ if path.starts_with("/pkg/") || path.starts_with("/style/") => "static".into(),
        _ => "other".into(),
    }
}

/// Times every request by method, route and status.
pub async fn track(req: Request<Body>, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let route = route_label(&req);
    let resp = next.run(req).await;
    let status: StatusCode = resp.status();
    metrics::global()
        .http_request_seconds
        .get_or_create(&HttpLabels {
            method,
            route,
            status: status.as_u16(),
        })
        .observe(started.elapsed().as_secs_f64());
    resp
}
