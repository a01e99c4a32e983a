//! The browser's end of live push: one `EventSource` on `/api/live` per page, opened by the
//! first island that asks for it and shared by every island showing pushed data (the
//! orders rows, the overview's badge and ticker, the replay jobs panel), decoded into
//! [`LiveMessage`]s. Islands are hydrated independently and share no reactive owner, so
//! the stream lives in a per-page singleton rather than in any one of them.
//!
//! `EventSource` reconnects by itself after a server restart; the connection state is
//! exposed so a page can say whether it is live. On the server this compiles to a no-op
//! (the state is [`LiveState::Static`]), so islands can call it unconditionally.

use crate::ops::LiveMessage;
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

/// The badge saying whether pushes arrive ("static" until the page's wasm has opened the
/// stream).
#[component]
pub fn LiveBadge() -> impl IntoView {
    let state = state();
    view! {
        <span class=move || format!("live-badge {}", state.get().label()) data-testid="live-state">
            {move || state.get().label()}
        </span>
    }
}

/// [`LiveBadge`] on its own, for a page whose header is otherwise server-rendered.
#[island]
pub fn LiveBadgeIsland() -> impl IntoView {
    view! { <LiveBadge /> }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{LiveMessage, LiveState};
    use leptos::prelude::*;
    use std::cell::RefCell;
    use wasm_bindgen::{closure::Closure, JsCast};

    type Listener = Box<dyn Fn(LiveMessage)>;

    pub struct Feed {
        pub state: ArcRwSignal<LiveState>,
        pub listeners: RefCell<Vec<Listener>>,
        source: RefCell<Option<web_sys::EventSource>>,
    }

    thread_local! {
        // The page's one stream; it lives as long as the page.
        pub static FEED: Feed = Feed {
            state: ArcRwSignal::new(LiveState::Static),
            listeners: RefCell::default(),
            source: RefCell::default(),
        };
    }

    /// Opens the stream unless it is open already.
    pub fn connect() {
        FEED.with(|feed| {
            if feed.source.borrow().is_some() {
                return;
            }
            let Ok(source) = web_sys::EventSource::new("/api/live") else {
                feed.state.set(LiveState::Reconnecting);
                return;
            };
            feed.state.set(LiveState::Connecting);
            let on_event =
                Closure::<dyn FnMut(web_sys::MessageEvent)>::new(|ev: web_sys::MessageEvent| {
                    let Some(text) = ev.data().as_string() else {
                        return;
                    };
                    match serde_json::from_str::<LiveMessage>(&text) {
                        Ok(msg) => {
                            FEED.with(|f| f.listeners.borrow().iter().for_each(|l| l(msg.clone())))
                        }
                        Err(e) => leptos::logging::warn!("ignoring malformed live message: {e}"),
                    }
                });
            let state = feed.state.clone();
            let on_open =
                Closure::<dyn FnMut(web_sys::Event)>::new(move |_| state.set(LiveState::Live));
            let state = feed.state.clone();
            let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                state.set(LiveState::Reconnecting)
            });
            for name in ["order", "replay_job"] {
                let _ = source
                    .add_event_listener_with_callback(name, on_event.as_ref().unchecked_ref());
            }
            source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
            source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            // The callbacks live as long as the page, like the stream.
            on_event.forget();
            on_open.forget();
            on_error.forget();
            feed.source.replace(Some(source));
        });
    }
}

/// The page's push-stream state: [`LiveState::Static`] until an island has subscribed
/// (and always on the server).
pub fn state() -> RwSignal<LiveState> {
    #[cfg(feature = "hydrate")]
    {
        RwSignal::from(browser::FEED.with(|f| f.state.clone()))
    }
    #[cfg(not(feature = "hydrate"))]
    RwSignal::new(LiveState::Static)
}

/// Calls `on_message` with every message pushed to this page from now on; opens the
/// page's stream once the calling island has hydrated.
pub fn subscribe(on_message: impl Fn(LiveMessage) + 'static) {
    #[cfg(feature = "hydrate")]
    {
        browser::FEED.with(|f| f.listeners.borrow_mut().push(Box::new(on_message)));
        Effect::new(|_| browser::connect());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = on_message;
}
