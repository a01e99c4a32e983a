//! The browser's end of live push: one `EventSource` on `/api/live`, decoded into
//! [`LiveMessage`]s. `EventSource` reconnects by itself after a server restart; the
//! connection state is exposed so the page can say whether it is live.
//!
//! On the server this compiles to a no-op, so pages can call it unconditionally.

use crate::api::LiveMessage;
use leptos::prelude::*;

/// Whether the push stream is connected, as shown in the page header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveState {
    /// Server-rendered, not yet hydrated (or JavaScript is off).
    Static,
    Connecting,
    Live,
    Reconnecting,
}

impl LiveState {
    pub fn label(self) -> &'static str {
        match self {
            LiveState::Static => "static",
            LiveState::Connecting => "connecting",
            LiveState::Live => "live",
            LiveState::Reconnecting => "reconnecting",
        }
    }
}

/// Subscribes to the live stream for as long as the calling component lives.
#[cfg(feature = "hydrate")]
pub fn subscribe(state: RwSignal<LiveState>, on_message: impl Fn(LiveMessage) + 'static) {
    use send_wrapper::SendWrapper;
    use wasm_bindgen::{closure::Closure, JsCast};

    let Ok(source) = web_sys::EventSource::new("/api/live") else {
        state.set(LiveState::Reconnecting);
        return;
    };
    state.set(LiveState::Connecting);

    let on_event =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            let Some(text) = ev.data().as_string() else {
                return;
            };
            match serde_json::from_str::<LiveMessage>(&text) {
                Ok(msg) => on_message(msg),
                Err(e) => leptos::logging::warn!("ignoring malformed live message: {e}"),
            }
        });
    let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| state.set(LiveState::Live));
    let on_error =
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| state.set(LiveState::Reconnecting));
    for name in ["order", "replay_job"] {
        let _ = source.add_event_listener_with_callback(name, on_event.as_ref().unchecked_ref());
    }
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));

    // The closures must outlive the callbacks; they are dropped with the source.
    let held = SendWrapper::new((source, on_event, on_open, on_error));
    on_cleanup(move || {
        let (source, ..) = held.take();
        source.close();
    });
}

#[cfg(not(feature = "hydrate"))]
pub fn subscribe(_state: RwSignal<LiveState>, _on_message: impl Fn(LiveMessage) + 'static) {}
