//! The signed-in user as the pages see them: loaded once per page (serialized into the
//! server-rendered HTML, so hydration needs no extra request), shown in the top bar, and
//! used to render the CSRF field of every form and to hide controls a role may not use.

use crate::auth::{Role, SessionView, CSRF_FIELD};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

/// Who is signed in (`None` only if the auth layer is absent, e.g. in unit tests).
#[server(input = GetUrl, output = crate::codec::Json)]
pub async fn current_session() -> Result<Option<SessionView>, ServerFnError> {
    Ok(use_context::<SessionView>())
}

pub type SessionResource = Resource<Result<Option<SessionView>, ServerFnError>>;

/// Loads the session and provides it to every page; call once, in `App`.
pub fn provide_session() -> SessionResource {
    let r: SessionResource = Resource::new(|| (), |_| current_session());
    provide_context(r);
    r
}

pub fn use_session() -> SessionResource {
    expect_context::<SessionResource>()
}

/// The hidden field carrying the session's CSRF token; put one in every form that changes
/// something.
#[component]
pub fn CsrfField() -> impl IntoView {
    let session = use_session();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let token = session.await.ok().flatten().map(|s| s.csrf).unwrap_or_default();
                view! { <input type="hidden" name=CSRF_FIELD value=token /> }
            })}
        </Suspense>
    }
}

/// Renders `children` only for a user whose role allows `role` (the server checks again).
#[component]
pub fn IfRole(role: Role, children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let allowed = session.await.ok().flatten().is_some_and(|s| s.can(role));
                allowed.then(|| children.with_value(|c| c()))
            })}
        </Suspense>
    }
}

/// The user's name and role, the sign-out form, and the kill-switch banner.
#[component]
pub fn UserMenu() -> impl IntoView {
    let session = use_session();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                session.await.ok().flatten().map(|s| {
                    let banner = (!s.writes_enabled).then(|| view! {
                        <span class="kill-banner" role="status" data-testid="kill-switch-banner">
                            "Writes are switched off"
                        </span>
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
            })}
        </Suspense>
    }
}
