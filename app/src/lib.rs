//! Switchyard's user interface, compiled twice: for the server (`ssr`), where every page
//! is rendered to HTML and the server functions live, and for the browser (`hydrate`,
//! wasm32), which makes only the page's *islands* interactive (Leptos islands mode).
//!
//! Invariant: page views are server-only. A page is a plain component: it runs on the
//! server, awaits its resources there and renders complete HTML that works without
//! JavaScript (links, GET forms for filters, forms posting to server functions); moving
//! between pages is an ordinary page load. Only components marked `#[island]` — the parts
//! that need the browser: live rows and ticker, job progress, forms' result messages, the
//! assistant sidebar — are compiled into the wasm bundle, and they get their data as
//! serializable props.
//!
//! This crate holds no SQL and no Kafka: server functions reach the server through the five
//! contracts ([`ops`], [`console`], [`admin`], [`dlq`], [`assistant`]; each a `model`, a
//! `contract` trait the `switchyard` server implements and provides as context, and, where
//! it has them, `server_fns`). The states their DTOs carry are in [`states`].

pub mod admin;
pub mod assistant;
pub mod auth;
#[cfg(feature = "ssr")]
pub mod charts;
pub mod codec;
pub mod console;
pub mod dlq;
pub mod forms;
pub mod ops;
pub mod pages;
pub mod push;
pub mod saga;
pub mod session;
pub mod states;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    ParamSegment, SsrMode, StaticSegment,
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
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The console: top bar, the page the URL names, the assistant sidebar. Runs on the
/// server only (the router matches the URL there; links are plain links).
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Stylesheet id="switchyard" href="/style/main.css" />
        <Title text="Switchyard" />
        <Router>
            <div class="shell">
                <TopBar>
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
                </TopBar>
                <main class="content">
                    <Routes fallback=|| view! { <p class="empty">"Page not found."</p> }>
                        <Route path=StaticSegment("") view=pages::overview::OverviewPage ssr=SsrMode::Async />
                        <Route path=StaticSegment("breakers") view=pages::breakers::BreakersPage ssr=SsrMode::Async />
                        <Route path=StaticSegment("orders") view=pages::orders::OrdersPage ssr=SsrMode::Async />
                        <Route
                            path=(StaticSegment("orders"), ParamSegment("id"))
                            view=pages::order_detail::OrderDetailPage
                            ssr=SsrMode::Async
                        />
                        <Route path=StaticSegment("quarantine") view=pages::quarantine::QuarantinePage ssr=SsrMode::Async />
                        <Route path=StaticSegment("dead-letters") view=pages::dead_letters::DeadLettersPage ssr=SsrMode::Async />
                        <Route
                            path=(StaticSegment("dead-letters"), ParamSegment("id"))
                            view=pages::dead_letter_detail::DeadLetterDetailPage
                            ssr=SsrMode::Async
                        />
                        <Route path=StaticSegment("admin") view=pages::admin::AdminPage ssr=SsrMode::Async />
                    </Routes>
                </main>
                <assistant::sidebar::AssistantSidebar session=session::current() />
            </div>
        </Router>
    }
}

/// The top bar (its links and user menu are server-rendered children), and the page's
/// signal that its islands are live: `data-hydrated` turns "true" once the wasm bundle has
/// hydrated every island on the page. Islands hydrate in one pass, in document order,
/// without yielding to the event loop, so a timeout set from here fires after the last
/// one (and after their first effects).
#[island]
fn TopBar(children: Children) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| set_timeout(move || hydrated.set(true), std::time::Duration::ZERO));
    view! {
        <nav class="topbar" aria-label="Main" data-hydrated=move || hydrated.get().to_string()>
            {children()}
        </nav>
    }
}

/// Entry point of the wasm bundle: called before the page's islands are hydrated.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    use wasm_bindgen::{closure::Closure, JsCast};
    // A server function that redirects (a replay job just started) sends the browser to
    // that page: there is no client-side router to do it.
    let _ = leptos::server_fn::redirect::set_redirect_hook(forms::page::go);
    // Nor is a page shown again once the browser is on its way elsewhere.
    let leaving = Closure::<dyn FnMut()>::new(forms::page::leaving);
    let _ = leptos::prelude::window()
        .add_event_listener_with_callback("beforeunload", leaving.as_ref().unchecked_ref());
    leaving.forget();
    leptos::mount::hydrate_islands();
}
