//! The HTTP surface: Leptos pages and server functions, static assets, health probes, the
//! live push stream and the sign-in forms, on one axum router behind the auth layer.
//!
//! Invariant: every route is registered here, through [`api_routes`] or Leptos' route and
//! server-function lists, and [`inventory`] lists exactly those, so the route-guard test
//! sees every route a request could reach.

pub mod canonical;
pub mod health;
pub mod limits;
pub mod listen;
pub mod metrics;
pub mod sse;

use crate::auth::{self, headers, Auth};
use crate::config::Limits;
use crate::fanout::LiveHub;
use crate::read_model::{LogEnds, PgConsole};
use axum::extract::FromRef;
use axum::http::header::CONTENT_SECURITY_POLICY;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::routing::{get, MethodRouter};
use axum::{middleware, Router};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes, ResponseOptions};
use rdkafka::producer::FutureProducer;
use sqlx::PgPool;
use std::sync::Arc;
use switchyard_app::admin::SharedAdmin;
use switchyard_app::assistant::SharedAssistant;
use switchyard_app::auth::{Principal, SessionView};
use switchyard_app::console::SharedConsole;
use switchyard_app::dlq::SharedDeadLetters;
use switchyard_app::ops::SharedOps;
use switchyard_app::saga::SharedSagaActions;
use switchyard_app::{shell, App};
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;
use tower_sessions::SessionManagerLayer;
use tower_sessions_sqlx_store::PostgresStore;

/// Everything a request handler may need.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub auth: Auth,
    pub pool: PgPool,
    pub hub: LiveHub,
    pub ops: SharedOps,
    /// The dead-letter console (queries, replays, jobs, discards).
    pub dlq: SharedDeadLetters,
    pub admin: SharedAdmin,
    /// Saga actions: operators' commands to sagas, and the admin's switch per action.
    pub saga: SharedSagaActions,
    /// The assistant sidebar's backend, provided to its server functions.
    pub assistant: SharedAssistant,
    /// Kept for the readiness probe's broker check.
    pub kafka: FutureProducer,
    /// The ends of the consumed logs, for lag (shared by pages and scrapes).
    pub log_ends: LogEnds,
    /// The readiness probe's shared answer.
    pub ready: health::Readiness,
    pub limits: Limits,
    /// Open push streams per user.
    pub push_streams: limits::PerUser,
    /// Questions to the assistant per user.
    pub ask_gate: limits::AskGate,
}

impl AppState {
    /// The per-user limits of `limits`, fresh.
    pub fn gates(limits: &Limits) -> (limits::PerUser, limits::AskGate) {
        (
            limits::PerUser::new(limits.push_streams_per_user),
            limits::AskGate::new(limits.assistant_per_min, limits.assistant_in_flight),
        )
    }
}

/// Routes outside Leptos: probes, the push stream, sign-in and sign-out.
pub fn api_routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    let mut routes = vec![
        ("/healthz", get(health::healthz)),
        ("/readyz", get(health::readyz)),
        ("/api/live", get(sse::stream)),
        ("/metrics", get(metrics::scrape)),
    ];
    routes.extend(auth::routes::<AppState>());
    routes
}

/// Every (method, path) the router serves other than static files: pages (GET), server
/// functions (their method) and [`api_routes`]. Path parameters appear as `:name`.
pub fn inventory() -> Vec<(Method, String)> {
    let mut out: Vec<(Method, String)> = Vec::new();
    for listing in generate_route_list(App) {
        out.push((Method::GET, listing.path().to_string()));
    }
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        out.push((method, path.to_string()));
    }
    // MethodRouter hides its methods; the sign-in forms are the only non-GET ones.
    for (path, _) in api_routes() {
        let method = if path.starts_with("/auth/") && !path.starts_with("/auth/oidc/") {
            Method::POST
        } else {
            Method::GET
        };
        out.push((method, path.to_string()));
    }
    out.sort_by(|a, b| (a.1.as_str(), a.0.as_str()).cmp(&(b.1.as_str(), b.0.as_str())));
    out.dedup();
    out
}

/// Per request, inside Leptos: the read model, who is asking (put there by the auth
/// layer) and, for pages, the CSP carrying the nonce Leptos renders into its scripts.
fn request_context(state: &AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    let (ops, admin, dlq) = (state.ops.clone(), state.admin.clone(), state.dlq.clone());
    let saga = state.saga.clone();
    let assistant = state.assistant.clone();
    let console: SharedConsole = Arc::new(PgConsole::with_live(
        state.pool.clone(),
        state.log_ends.clone(),
        state.hub.clone(),
    ));
    move || {
        provide_context(ops.clone());
        provide_context(console.clone());
        provide_context(admin.clone());
        provide_context(dlq.clone());
        provide_context(saga.clone());
        provide_context(assistant.clone());
        if let Some(parts) = use_context::<Parts>() {
            if let Some(p) = parts.extensions.get::<Principal>() {
                provide_context(p.clone());
            }
            if let Some(v) = parts.extensions.get::<SessionView>() {
                provide_context(v.clone());
            }
        }
        if let (Some(nonce), Some(res)) =
            (leptos::nonce::use_nonce(), use_context::<ResponseOptions>())
        {
            if let Ok(v) = HeaderValue::from_str(&headers::page_csp(&nonce)) {
                res.insert_header(CONTENT_SECURITY_POLICY, v);
            }
        }
    }
}

/// The whole console, outermost layer last: one reading of the path
/// ([`canonical`]), tracing, metrics, compression, security headers, the body limit,
/// sessions, the auth layer, the assistant's gate, then the routes. Static assets are
/// served by their own services, so a missing file is a 404, never a page.
pub fn router(state: AppState, sessions: SessionManagerLayer<PostgresStore>) -> Router {
    let _ = switchyard_app::ops::HIDE_INTERNAL.set(crate::errors::hide_internal);
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let site = std::path::PathBuf::from(options.site_root.as_ref());
    let mut router = Router::new();
    for (path, method_router) in api_routes() {
        router = router.route(path, method_router);
    }
    let secure = state.auth.config.secure();
    let max_body = state.limits.max_body_bytes;
    router
        .leptos_routes_with_context(&state, routes, request_context(&state), move || {
            shell(options.clone())
        })
        .nest_service("/pkg", ServeDir::new(site.join("pkg")))
        .nest_service("/style", ServeDir::new(site.join("style")))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(
            state.ask_gate.clone(),
            limits::gate_questions,
        ))
        .layer(middleware::from_fn_with_state(
            state.auth.clone(),
            auth::guard::guard,
        ))
        .layer(sessions)
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(middleware::map_response(move |r| headers::apply(r, secure)))
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn(metrics::track))
        .layer(TraceLayer::new_for_http())
        .layer(middleware::from_fn(canonical::refuse_ambiguous))
        .with_state(state)
}
