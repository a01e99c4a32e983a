//! Forms that change something, as islands. Every such form posts to a server function;
//! without JavaScript the browser posts it and the server sends it back to the page (with
//! an error in the URL, which the server-side render shows). With JavaScript the island
//! calls the server function itself, shows an error in place and, on success, shows the
//! page again from the server (a reload: pages render on the server only), carrying the
//! result message across the reload in the tab's session storage, where a
//! [`FlashMessage`] island placed by the page shows it (the form itself may be gone then:
//! a replayed dead letter has no Replay button).
//!
//! The form's fields are server-rendered children of the island; the island knows only
//! which server function they post to ([`FormAction`]). A replay job's start needs no
//! reload: the server function redirects to the job's page.

use crate::admin::{
    AddUser, ResolveLogIncident, SetFault, SetUserDisabled, SetUserPassword, SetUserRole,
    SetWritesEnabled,
};
use crate::dlq::server_fns::{DiscardDeadLetters, ReplayDeadLetter, StartReplayJob};
use crate::saga::server_fns::{SendSagaCommand, SetSagaAction, StartSagaBatch};
use leptos::prelude::*;
use leptos::server_fn::{client::Client, codec::PostUrl, request::ClientReq, Http, ServerFn};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// The server function a form posts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FormAction {
    SetWrites,
    AddUser,
    SetRole,
    SetDisabled,
    SetPassword,
    SetFault,
    ResolveIncident,
    StartReplayJob,
    ReplayOne,
    Discard,
    SagaCommand,
    SetSagaAction,
    StartSagaBatch,
}

/// What happens after a call succeeded.
enum AfterOk {
    /// Show the page again, and this message (if any) below the form.
    Reload(Option<String>),
    /// Nothing: the server function's redirect moves the browser on.
    Stay,
}

/// A form posting to `action`; `class` and `testid` go on the `<form>`.
#[island]
pub fn ActionIsland(
    action: FormAction,
    #[prop(optional, into)] class: Option<String>,
    #[prop(optional, into)] testid: Option<String>,
    children: Children,
) -> impl IntoView {
    let attrs = Attrs { class, testid };
    // An admin form shows its error as an alert, and after a change just the page again.
    macro_rules! admin_form {
        ($server_fn:ty) => {
            enhanced(
                action,
                ServerAction::<$server_fn>::new(),
                attrs,
                "form-error",
                children,
                |_| AfterOk::Reload(None),
            )
        };
    }
    match action {
        FormAction::SetWrites => admin_form!(SetWritesEnabled),
        FormAction::AddUser => admin_form!(AddUser),
        FormAction::SetRole => admin_form!(SetUserRole),
        FormAction::SetDisabled => admin_form!(SetUserDisabled),
        FormAction::SetPassword => admin_form!(SetUserPassword),
        FormAction::SetFault => admin_form!(SetFault),
        FormAction::ResolveIncident => admin_form!(ResolveLogIncident),
        FormAction::SetSagaAction => admin_form!(SetSagaAction),
        FormAction::StartSagaBatch => enhanced(
            action,
            ServerAction::<StartSagaBatch>::new(),
            attrs,
            "error",
            children,
            |_| AfterOk::Stay,
        ),
        FormAction::SagaCommand => enhanced(
            action,
            ServerAction::<SendSagaCommand>::new(),
            attrs,
            "error",
            children,
            |c| {
                AfterOk::Reload(Some(format!(
                    "{} sent; the order service's answer appears below when it comes",
                    c.action.label()
                )))
            },
        ),
        FormAction::StartReplayJob => enhanced(
            action,
            ServerAction::<StartReplayJob>::new(),
            attrs,
            "error",
            children,
            |_| AfterOk::Stay,
        ),
        FormAction::ReplayOne => enhanced(
            action,
            ServerAction::<ReplayDeadLetter>::new(),
            attrs,
            "error",
            children,
            |r| {
                let at = r.position.clone().unwrap_or_default();
                AfterOk::Reload(Some(format!("{} {at}", r.outcome)))
            },
        ),
        FormAction::Discard => enhanced(
            action,
            ServerAction::<DiscardDeadLetters>::new(),
            attrs,
            "error",
            children,
            |n| AfterOk::Reload(Some(format!("{n} discarded"))),
        ),
    }
}

/// The message the form posting to `of` left for this page before showing it again.
#[island]
pub fn FlashMessage(
    of: FormAction,
    #[prop(optional, into)] testid: Option<String>,
) -> impl IntoView {
    let message = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(m) = flash::take(of) {
            message.set(Some(m));
        }
    });
    move || {
        message
            .get()
            .map(|m| view! { <p class="result" data-testid=testid.clone()>{m}</p> })
    }
}

struct Attrs {
    class: Option<String>,
    testid: Option<String>,
}

/// The form and its error; `of` names the form's message across the reload.
fn enhanced<S>(
    of: FormAction,
    action: ServerAction<S>,
    attrs: Attrs,
    error_class: &'static str,
    children: Children,
    after_ok: impl Fn(&S::Output) -> AfterOk + 'static,
) -> AnyView
where
    S: DeserializeOwned
        + ServerFn<Protocol = Http<PostUrl, crate::codec::Json>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Client: Client<S::Error>,
    <<S::Client as Client<S::Error>>::Request as ClientReq<S::Error>>::FormData:
        From<leptos::web_sys::FormData>,
    S::Output: Clone + Send + Sync + 'static,
    S::Error: std::fmt::Display + Clone + Send + Sync + 'static,
{
    Effect::new(move |_| {
        if let Some(Ok(out)) = action.value().get() {
            match after_ok(&out) {
                AfterOk::Reload(m) => flash::reload_with(of, m),
                AfterOk::Stay => {}
            }
        }
    });
    let Attrs { class, testid } = attrs;
    view! {
        <ActionForm action attr:class=class attr:data-testid=testid>
            {children()}
        </ActionForm>
        {move || action.value().get().and_then(|r| r.err()).map(|e| {
            view! { <p class=error_class role="alert">{e.to_string()}</p> }
        })}
    }
    .into_any()
}

/// Showing the page again, without fighting a navigation already under way (a redirect
/// to a just-started job, a link the user followed): the later one would abort it.
pub mod page {
    use std::sync::atomic::{AtomicBool, Ordering};

    static LEAVING: AtomicBool = AtomicBool::new(false);

    /// Goes to `loc` (a server function's redirect).
    pub fn go(loc: &str) {
        LEAVING.store(true, Ordering::Relaxed);
        #[cfg(feature = "hydrate")]
        let _ = leptos::prelude::window().location().set_href(loc);
        #[cfg(not(feature = "hydrate"))]
        let _ = loc;
    }

    /// The browser is leaving this page (called on `beforeunload`).
    pub fn leaving() {
        LEAVING.store(true, Ordering::Relaxed);
    }

    /// Shows this page again from the server, unless the browser is already leaving it.
    pub fn show_again() {
        let already_leaving = LEAVING.swap(true, Ordering::Relaxed);
        #[cfg(feature = "hydrate")]
        if !already_leaving {
            let _ = leptos::prelude::window().location().reload();
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = already_leaving;
    }
}

/// Messages kept across one reload of the same page (the tab's session storage).
mod flash {
    use super::FormAction;

    #[cfg(feature = "hydrate")]
    fn storage() -> Option<(leptos::web_sys::Storage, String)> {
        let w = leptos::prelude::window();
        Some((w.session_storage().ok()??, w.location().href().ok()?))
    }

    #[cfg(feature = "hydrate")]
    fn slot(of: FormAction) -> String {
        format!("switchyard-flash:{of:?}")
    }

    /// The message the form posting to `of` left for this very page, if any (taken: shown once).
    pub fn take(of: FormAction) -> Option<String> {
        #[cfg(feature = "hydrate")]
        {
            let (s, here) = storage()?;
            let stored = s.get_item(&slot(of)).ok()??;
            let _ = s.remove_item(&slot(of));
            let (page, message) = stored.split_once('\n')?;
            (page == here).then(|| message.to_string())
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = of;
            None
        }
    }

    /// Reloads the page, leaving `message` from the form posting to `of` on it.
    pub fn reload_with(of: FormAction, message: Option<String>) {
        #[cfg(feature = "hydrate")]
        {
            if let (Some((s, here)), Some(m)) = (storage(), message) {
                let _ = s.set_item(&slot(of), &format!("{here}\n{m}"));
            }
            super::page::show_again();
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (of, message);
    }
}
