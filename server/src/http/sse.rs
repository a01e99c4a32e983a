//! `/api/live`: the push stream, as server-sent events. Each message is a JSON
//! [`LiveMessage`] with its SSE event name; keep-alives keep proxies from closing it.
//! A browser that falls behind skips ahead rather than slowing everyone down.

use super::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use std::convert::Infallible;
use std::time::Duration;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

/// Counts an open push connection for `/metrics` while it lives.
struct Connected;

impl Connected {
    fn new() -> Self {
        crate::metrics::global().push_connections.inc();
        Connected
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        crate::metrics::global().push_connections.dec();
    }
}

pub async fn stream(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let connected = Connected::new();
    let messages = BroadcastStream::new(state.hub.subscribe()).filter_map(move |m| {
        let _alive = &connected; // dropped with the stream, when the browser goes
        let msg = m.ok()?; // Lagged: skip ahead.
        let data = serde_json::to_string(&msg).ok()?;
        Some(Ok(Event::default().event(msg.event_name()).data(data)))
    });
    Sse::new(messages).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
