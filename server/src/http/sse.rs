//! `/api/live`: the push stream, as server-sent events. Each message is a JSON
//! [`LiveMessage`] with its SSE event name; keep-alives keep proxies from closing it.
//! A browser that falls behind skips ahead rather than slowing everyone down.
//!
//! A stream belongs to a signed-in session: at most `push_streams_per_user` per user
//! (429 beyond), and it ends within `push_session_check_secs` of the session ending —
//! sign-out, a password change, a disable, the absolute lifetime.

use super::limits::{too_many, Slot};
use super::AppState;
use axum::extract::{Extension, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::time::Duration;
use switchyard_app::auth::Principal;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;
use tower_sessions::Session;

/// Counts an open push connection for `/metrics` while it lives.
struct Connected(#[allow(dead_code)] Slot);

impl Connected {
    fn new(slot: Slot) -> Self {
        crate::metrics::global().push_connections.inc();
        Connected(slot)
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        crate::metrics::global().push_connections.dec();
    }
}

pub async fn stream(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    session: Session,
) -> Response {
    let Some(slot) = state.push_streams.take(&who.name) else {
        return too_many(
            "push_streams",
            "too many live streams open for this user; close a tab",
            Duration::from_secs(15),
        );
    };
    let Some(id) = session.id() else {
        return (axum::http::StatusCode::UNAUTHORIZED, "sign in first").into_response();
    };
    let connected = Connected::new(slot);
    let (auth, every) = (
        state.auth.clone(),
        Duration::from_secs(state.limits.push_session_check_secs.max(1)),
    );
    let ended = async move {
        loop {
            tokio::time::sleep(every).await;
            if !auth.still_signed_in(&id, &who.name).await {
                return;
            }
        }
    };
    let messages = BroadcastStream::new(state.hub.subscribe()).filter_map(move |m| {
        let _alive = &connected; // dropped with the stream, when the browser goes
        let msg = m.ok()?; // Lagged: skip ahead.
        let data = serde_json::to_string(&msg).ok()?;
        Some(Ok::<_, std::convert::Infallible>(
            Event::default().event(msg.event_name()).data(data),
        ))
    });
    let messages = futures::StreamExt::take_until(messages, Box::pin(ended));
    Sse::new(messages)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
