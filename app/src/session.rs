//! The signed-in user as the pages see them: the [`SessionView`] the auth layer resolved for
//! this request (provided as context by the server), shown in the top bar, and used to
//! render the CSRF field of every form and to hide controls a role may not use.
//!
//! Pages render on the server only, where the context is always there. An island that
//! renders such controls in the browser takes the session as a prop and [`provide`]s it,
//! so [`CsrfField`] and [`IfRole`] work the same inside it.

use crate::auth::{Role, SessionView, CSRF_FIELD};
use leptos::prelude::*;

/// Who is signed in (`None` only if the auth layer is absent, e.g. in unit tests).
pub fn current() -> Option<SessionView> {
    use_context::<SessionView>()
}

/// The session's CSRF token (empty without a session: the server refuses the call anyway).
pub fn csrf() -> String {
    current().map(|s| s.csrf).unwrap_or_default()
}

/// Makes `session` the current one below here; call first thing in an island that got it
/// as a prop.
pub fn provide(session: Option<SessionView>) {
    if let Some(s) = session {
        provide_context(s);
    }
}

/// The hidden field carrying the session's CSRF token; put one in every form that changes
/// something.
#[component]
pub fn CsrfField() -> impl IntoView {
    view! { <input type="hidden" name=CSRF_FIELD value=csrf() /> }
}

/// Renders `children` only for a user whose role allows `role` (the server checks again).
#[component]
pub fn IfRole(role: Role, children: Children) -> impl IntoView {
    current().is_some_and(|s| s.can(role)).then(children)
}

/// The user's name and role, the sign-out form, and the kill-switch banner.
#[component]
pub fn UserMenu() -> impl IntoView {
    current().map(|s| {
        let banner = (!s.writes_enabled).then(|| {
            view! {
                <span class="kill-banner" role="status" data-testid="kill-switch-banner">
                    "Writes are switched off"
                </span>
            }
        });
        let is_admin = s.can(Role::Admin);
        view! {
            {banner}
            {is_admin.then(|| view! { <a href="/admin">"Admin"</a> })}
            <span class="user" data-testid="user">
                {s.name.clone()} " · " <span class="role">{s.role.as_str()}</span>
            </span>
            <form method="post" action="/auth/logout" class="inline">
                <input type="hidden" name=CSRF_FIELD value=s.csrf.clone() />
                <button class="btn link" type="submit">"Sign out"</button>
            </form>
        }
    })
}
