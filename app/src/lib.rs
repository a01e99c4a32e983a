//! Switchyard's user interface, compiled twice: for the server (`ssr`) where it renders HTML
//! and hosts the server functions, and for the browser (`hydrate`, wasm32) where it takes
//! over that HTML and keeps it live.
//!
//! This crate holds no SQL and no Kafka: server functions reach the read model through the
//! [`api::OpsApi`] trait, which the `switchyard` server implements and provides as context.

pub mod admin;
pub mod api;
pub mod assistant;
pub mod auth;
#[cfg(feature = "ssr")]
pub mod charts;
pub mod codec;
pub mod console;
pub mod dlq;
pub mod live;
pub mod pages;
pub mod session;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    ParamSegment, StaticSegment,
};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Flips to "true" once the wasm bundle has taken over the page (effects run only there).
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    session::provide_session();

    view! {
        <Stylesheet id="switchyard" href="/style/main.css" />
        <Title text="Switchyard" />
        <Router>
            <div class="shell" data-hydrated=move || hydrated.get().to_string()>
                <nav class="topbar" aria-label="Main">
                    <A href="/" attr:class="brand">
                        "Switchyard"
                    </A>
                    <A href="/" exact=true>"Overview"</A>
                    <A href="/orders">"Orders"</A>
                    <A href="/dead-letters">"Dead letters"</A>
                    <A href="/breakers">"Breakers"</A>
                    <A href="/quarantine">"Quarantine"</A>
                    <span class="spacer"></span>
                    <session::UserMenu />
                </nav>
                <main class="content">
                    <Routes fallback=|| view! { <p class="empty">"Page not found."</p> }>
                        <Route path=StaticSegment("") view=pages::overview::OverviewPage />
                        <Route path=StaticSegment("breakers") view=pages::breakers::BreakersPage />
                        <Route path=StaticSegment("orders") view=pages::orders::OrdersPage />
                        <Route
                            path=(StaticSegment("orders"), ParamSegment("id"))
                            view=pages::order_detail::OrderDetailPage
                        />
                        <Route path=StaticSegment("quarantine") view=pages::quarantine::QuarantinePage />
                        <Route path=StaticSegment("dead-letters") view=pages::dead_letters::DeadLettersPage />
                        <Route
                            path=(StaticSegment("dead-letters"), ParamSegment("id"))
                            view=pages::dead_letter_detail::DeadLetterDetailPage
                        />
                        <Route path=StaticSegment("admin") view=pages::admin::AdminPage />
                    </Routes>
                </main>
                <assistant::sidebar::AssistantSidebar />
            </div>
        </Router>
    }
}

/// Entry point of the wasm bundle: hydrate the server-rendered body.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
