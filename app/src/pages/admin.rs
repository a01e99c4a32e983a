//! The admin page: the write kill-switch, users and roles, fleet fault injection and the
//! audit log. Every control is a plain form (works without JavaScript); the server checks
//! the admin role and the CSRF token on each.

use crate::admin::*;
use crate::auth::Role;
use crate::session::CsrfField;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Shows the outcome of the last submission of an action: its error, if any.
fn outcome<I>(action: ServerAction<I>) -> impl IntoView
where
    I: leptos::server_fn::ServerFn<Output = (), Error = ServerFnError>
        + Clone
        + Send
        + Sync
        + 'static,
{
    move || {
        action.value().get().and_then(|r| r.err()).map(|e| {
            view! { <p class="form-error" role="alert">{e.to_string()}</p> }
        })
    }
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let writes = ServerAction::<SetWritesEnabled>::new();
    let add = ServerAction::<AddUser>::new();
    let role = ServerAction::<SetUserRole>::new();
    let disable = ServerAction::<SetUserDisabled>::new();
    let password = ServerAction::<SetUserPassword>::new();
    let fault = ServerAction::<SetFault>::new();
    // The top bar's kill-switch banner comes from the session view: reload it after a switch.
    let session = crate::session::use_session();
    Effect::new(move |_| {
        if writes.version().get() > 0 {
            session.refetch();
        }
    });
    let overview = Resource::new(
        move || {
            (
                writes.version().get(),
                add.version().get(),
                role.version().get(),
                disable.version().get(),
                fault.version().get(),
            )
        },
        |_| load_admin_overview(),
    );

    view! {
        <section class="page admin">
            <header class="page-head">
                <h1>"Admin"</h1>
            </header>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(o) => view! {
                            <KillSwitch enabled=o.writes_enabled action=writes />
                            <Users users=o.users add role disable password />
                            <Faults faults=o.faults action=fault />
                        }.into_any(),
                    }
                })}
            </Transition>
            <Audit />
        </section>
    }
}

#[component]
fn KillSwitch(enabled: bool, action: ServerAction<SetWritesEnabled>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="kill-h">
            <h2 id="kill-h">"Write kill-switch"</h2>
            <p data-testid="writes-state">
                {if enabled { "Writes are on: operators can replay and discard." } else { "Writes are OFF: every replay, discard, fault and user change is refused." }}
            </p>
            <ActionForm action>
                <CsrfField />
                <input type="hidden" name="enabled" value=(!enabled).to_string() />
                <button class=if enabled { "btn danger" } else { "btn primary" } type="submit" data-testid="kill-switch">
                    {if enabled { "Turn every write off" } else { "Turn writes back on" }}
                </button>
            </ActionForm>
            {outcome(action)}
        </section>
    }
}

#[component]
fn Users(
    users: Vec<UserView>,
    add: ServerAction<AddUser>,
    role: ServerAction<SetUserRole>,
    disable: ServerAction<SetUserDisabled>,
    password: ServerAction<SetUserPassword>,
) -> impl IntoView {
    let role_options = move |current: Role| {
        Role::ALL
            .iter()
            .map(
                |r| view! { <option value=r.as_str() selected=*r == current>{r.as_str()}</option> },
            )
            .collect_view()
    };
    let rows = users
        .into_iter()
        .map(|u| {
            let (n1, n2, n3) = (u.name.clone(), u.name.clone(), u.name.clone());
            let (role_id, pw_id) = (format!("role-{}", u.name), format!("pw-{}", u.name));
            view! {
                <tr data-testid="user-row">
                    <td>{u.name}</td>
                    <td>
                        <ActionForm action=role attr:class="inline">
                            <CsrfField />
                            <input type="hidden" name="name" value=n1 />
                            <label class="sr-only" for=role_id.clone()>"Role"</label>
                            <select id=role_id name="role">{role_options(u.role)}</select>
                            <button class="btn" type="submit">"Set"</button>
                        </ActionForm>
                    </td>
                    <td>{if u.disabled { "disabled" } else { "enabled" }}</td>
                    <td>
                        <ActionForm action=disable attr:class="inline">
                            <CsrfField />
                            <input type="hidden" name="name" value=n2 />
                            <input type="hidden" name="disabled" value=(!u.disabled).to_string() />
                            <button class="btn" type="submit">{if u.disabled { "Enable" } else { "Disable" }}</button>
                        </ActionForm>
                        <ActionForm action=password attr:class="inline">
                            <CsrfField />
                            <input type="hidden" name="name" value=n3 />
                            <label class="sr-only" for=pw_id.clone()>"New password"</label>
                            <input id=pw_id name="password" type="password" minlength="12" placeholder="new password" autocomplete="new-password" required />
                            <button class="btn" type="submit">"Reset"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="users-h">
            <h2 id="users-h">"Users"</h2>
            <table class="grid" data-testid="users">
                <thead><tr><th scope="col">"Name"</th><th scope="col">"Role"</th><th scope="col">"State"</th><th scope="col">"Actions"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            {outcome(role)}
            {outcome(disable)}
            {outcome(password)}
            <h3>"Add a user"</h3>
            <ActionForm action=add attr:class="form-row">
                <CsrfField />
                <label>"Name" <input name="name" required pattern="[A-Za-z0-9_.@-]{1,64}" /></label>
                <label>"Role" <select name="role">{role_options(Role::Viewer)}</select></label>
                <label>"Password" <input name="password" type="password" minlength="12" autocomplete="new-password" required /></label>
                <button class="btn primary" type="submit" data-testid="add-user">"Add user"</button>
            </ActionForm>
            {outcome(add)}
        </section>
    }
}

#[component]
fn Faults(faults: Option<Vec<FaultView>>, action: ServerAction<SetFault>) -> impl IntoView {
    let body = match faults {
        None => view! { <p class="muted">"The fleet does not share this database: no faults to inject here."</p> }.into_any(),
        Some(faults) => {
            let rows = faults
                .into_iter()
                .map(|f| {
                    let id = format!("fault-{}", f.name);
                    view! {
                        <tr data-testid="fault-row">
                            <td><code>{f.name.clone()}</code></td>
                            <td>{f.description.clone()}</td>
                            <td>
                                <ActionForm action attr:class="inline">
                                    <CsrfField />
                                    <input type="hidden" name="name" value=f.name.clone() />
                                    <label class="sr-only" for=id.clone()>{format!("Value of {}", f.name)}</label>
                                    <input id=id name="value" type="number" step="any" value=f.value.to_string() required />
                                    <button class="btn" type="submit">"Set"</button>
                                </ActionForm>
                            </td>
                        </tr>
                    }
                })
                .collect_view();
            view! {
                <table class="grid" data-testid="faults">
                    <thead><tr><th scope="col">"Fault"</th><th scope="col">"Effect"</th><th scope="col">"Value"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            }
            .into_any()
        }
    };
    view! {
        <section class="card" aria-labelledby="faults-h">
            <h2 id="faults-h">"Fleet fault injection"</h2>
            {body}
            {outcome(action)}
        </section>
    }
}

#[component]
fn Audit() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let q = query.get();
        let text = |k: &str| q.get(k).filter(|v| !v.trim().is_empty());
        AuditFilter {
            actor: text("actor"),
            action: text("action"),
            target: text("target"),
            before: q.get("before").and_then(|v| v.parse().ok()),
        }
    };
    let rows = Resource::new(filter, audit_log);
    let value = move |k: &'static str| move || query.get().get(k).unwrap_or_default();
    view! {
        <section class="card" aria-labelledby="audit-h">
            <h2 id="audit-h">"Audit log"</h2>
            <form method="get" action="/admin" class="form-row" role="search">
                <label>"Actor" <input name="actor" prop:value=value("actor") /></label>
                <label>"Action" <input name="action" prop:value=value("action") placeholder="login, replay…" /></label>
                <label>"Target" <input name="target" prop:value=value("target") /></label>
                <button class="btn" type="submit">"Filter"</button>
            </form>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match rows.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(rows) => {
                            let older = (rows.len() as i64 == AUDIT_PAGE).then(|| rows.last().map(|r| r.id)).flatten();
                            let f = filter();
                            let older = older.map(|id| {
                                let mut q = form_urlencoded_pairs(&f);
                                q.push(("before".into(), id.to_string()));
                                view! { <a class="btn" href=format!("/admin?{}", encode(&q))>"Older"</a> }
                            });
                            let empty = rows.is_empty().then(|| view! { <p class="empty">"No audit entries match."</p> });
                            view! {
                                <table class="grid" data-testid="audit">
                                    <thead><tr>
                                        <th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"Action"</th>
                                        <th scope="col">"Target"</th><th scope="col">"Detail"</th><th scope="col">"From"</th>
                                    </tr></thead>
                                    <tbody>
                                        {rows.into_iter().map(|r| view! {
                                            <tr>
                                                <td><time datetime=r.at.to_rfc3339()>{r.at.format("%Y-%m-%d %H:%M:%S").to_string()}</time></td>
                                                <td>{r.actor}</td>
                                                <td><code>{r.action}</code></td>
                                                <td>{r.target.unwrap_or_default()}</td>
                                                <td class="mono">{r.detail}</td>
                                                <td>{r.source.unwrap_or_default()}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                {empty}
                                {older}
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

fn form_urlencoded_pairs(f: &AuditFilter) -> Vec<(String, String)> {
    [
        ("actor", &f.actor),
        ("action", &f.action),
        ("target", &f.target),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
    .collect()
}

/// A query string, percent-encoding each key and value.
fn encode(pairs: &[(String, String)]) -> String {
    use crate::api::percent_encode;
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}
