//! The HTTP surface: Leptos pages and server functions, static assets, health probes and
//! the live push stream, on one axum router.

pub mod health;
pub mod live;

use crate::live::LiveHub;
use axum::extract::FromRef;
use axum::routing::get;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use rdkafka::producer::FutureProducer;
use sqlx::PgPool;
use switchyard_app::api::SharedOps;
use switchyard_app::assistant::SharedAssistant;
use switchyard_app::{shell, App};
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

/// Everything a request handler may need.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    pub hub: LiveHub,
    pub ops: SharedOps,
    /// The assistant sidebar's backend, provided to its server functions.
    pub assistant: SharedAssistant,
    /// Kept for the readiness probe's broker check.
    pub kafka: FutureProducer,
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let ops = state.ops.clone();
    let assistant = state.assistant.clone();
    let options = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/api/live", get(live::stream))
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(ops.clone());
                provide_context(assistant.clone());
            },
            move || shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
