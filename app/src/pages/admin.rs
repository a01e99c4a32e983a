//! The admin page: the write kill-switch, the switch per saga action, users and roles, fleet fault injection, what the
//! console reads from Kafka (cluster, security, masked properties, what each topic setting
//! matched) and the audit log. Every control is a plain form (works without JavaScript); the server checks
//! the admin role and the CSRF token on each.
//!
//! Rendered on the server only. Each form is an island ([`ActionIsland`]): with
//! JavaScript it shows the server's refusal next to it, and after a change shows the page
//! again, so the tables and the top bar's kill-switch banner are current.

use crate::admin::*;
use crate::auth::Role;
use crate::forms::{ActionIsland, FormAction};
use crate::session::CsrfField;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AdminPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| load_admin_overview());

    view! {
        <section class="page admin">
            <header class="page-head">
                <h1>"Admin"</h1>
            </header>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(o) => view! {
                            <KillSwitch enabled=o.writes_enabled />
                            <SagaActionSwitches enabled=o.saga_actions_enabled />
                            <Users users=o.users />
                            <LogIncidents incidents=o.log_incidents />
                            <Faults faults=o.faults />
                            {o.kafka.map(|k| view! { <Kafka k /> })}
                        }.into_any(),
                    }
                })}
            </Suspense>
            <Audit />
        </section>
    }
}

#[component]
fn KillSwitch(enabled: bool) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="kill-h">
            <h2 id="kill-h">"Write kill-switch"</h2>
            <p data-testid="writes-state">
                {if enabled { "Writes are on: operators can replay and discard." } else { "Writes are OFF: every replay, discard, fault and user change is refused." }}
            </p>
            <ActionIsland action=FormAction::SetWrites>
                <CsrfField />
                <input type="hidden" name="enabled" value=(!enabled).to_string() />
                <button class=if enabled { "btn danger" } else { "btn primary" } type="submit" data-testid="kill-switch">
                    {if enabled { "Turn every write off" } else { "Turn writes back on" }}
                </button>
            </ActionIsland>
        </section>
    }
}

/// One switch per saga action: an action switched off is neither offered on the order
/// page nor accepted by the server.
#[component]
fn SagaActionSwitches(enabled: Vec<crate::saga::SagaAction>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="saga-actions-h" data-testid="saga-action-switches">
            <h2 id="saga-actions-h">"Saga actions"</h2>
            <table class="grid">
                <tbody>
                    {crate::saga::SagaAction::ALL.into_iter().map(|a| {
                        let on = enabled.contains(&a);
                        view! {
                            <tr data-action=a.as_str()>
                                <th scope="row">{a.label()}</th>
                                <td>{a.explain()}</td>
                                <td>{if on { "on" } else { "off" }}</td>
                                <td>
                                    <ActionIsland action=FormAction::SetSagaAction>
                                        <CsrfField />
                                        <input type="hidden" name="action" value=a.as_str() />
                                        <input type="hidden" name="enabled" value=(!on).to_string() />
                                        <button class="btn" type="submit" data-testid=format!("saga-action-{}", a.as_str())>
                                            {if on { "Switch off" } else { "Switch on" }}
                                        </button>
                                    </ActionIsland>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn Users(users: Vec<UserView>) -> impl IntoView {
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
                        <ActionIsland action=FormAction::SetRole class="inline">
                            <CsrfField />
                            <input type="hidden" name="name" value=n1 />
                            <label class="sr-only" for=role_id.clone()>"Role"</label>
                            <select id=role_id name="role">{role_options(u.role)}</select>
                            <button class="btn" type="submit">"Set"</button>
                        </ActionIsland>
                    </td>
                    <td>{if u.disabled { "disabled" } else { "enabled" }}</td>
                    <td>
                        <ActionIsland action=FormAction::SetDisabled class="inline">
                            <CsrfField />
                            <input type="hidden" name="name" value=n2 />
                            <input type="hidden" name="disabled" value=(!u.disabled).to_string() />
                            <button class="btn" type="submit">{if u.disabled { "Enable" } else { "Disable" }}</button>
                        </ActionIsland>
                        <ActionIsland action=FormAction::SetPassword class="inline">
                            <CsrfField />
                            <input type="hidden" name="name" value=n3 />
                            <label class="sr-only" for=pw_id.clone()>"New password"</label>
                            <input id=pw_id name="password" type="password" minlength="12" placeholder="new password" autocomplete="new-password" required />
                            <button class="btn" type="submit">"Reset"</button>
                        </ActionIsland>
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
            <h3>"Add a user"</h3>
            <ActionIsland action=FormAction::AddUser class="form-row">
                <CsrfField />
                <label>"Name" <input name="name" required pattern="[A-Za-z0-9_.@-]{1,64}" /></label>
                <label>"Role" <select name="role">{role_options(Role::Viewer)}</select></label>
                <label>"Password" <input name="password" type="password" minlength="12" autocomplete="new-password" required /></label>
                <button class="btn primary" type="submit" data-testid="add-user">"Add user"</button>
            </ActionIsland>
        </section>
    }
}

#[component]
fn Faults(faults: Option<Vec<FaultView>>) -> impl IntoView {
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
                                <ActionIsland action=FormAction::SetFault class="inline">
                                    <CsrfField />
                                    <input type="hidden" name="name" value=f.name.clone() />
                                    <label class="sr-only" for=id.clone()>{format!("Value of {}", f.name)}</label>
                                    <input id=id name="value" type="number" step="any" value=f.value.to_string() required />
                                    <button class="btn" type="submit">"Set"</button>
                                </ActionIsland>
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
        </section>
    }
}

/// Open log incidents, each closed by an admin with a note saying what was done; one that
/// holds its partition paused needs a decision: resume from the log's start or end, or
/// keep it paused.
#[component]
fn LogIncidents(incidents: Vec<crate::console::LogIncidentView>) -> impl IntoView {
    (!incidents.is_empty()).then(|| view! {
        <section class="card" aria-labelledby="incidents-h" data-testid="admin-log-incidents">
            <h2 id="incidents-h">"Log incidents"</h2>
            <table class="grid">
                <thead><tr><th scope="col">"Detected"</th><th scope="col">"What"</th><th scope="col">"Decide"</th></tr></thead>
                <tbody>
                    {incidents.into_iter().map(|i| {
                        let note = format!("incident-note-{}", i.id);
                        let choice = format!("incident-resume-{}", i.id);
                        let decision = i.paused.then(|| {
                            let skipped = i.log_end - i.log_start;
                            view! {
                                <label class="sr-only" for=choice.clone()>"Decision"</label>
                                <select id=choice name="resume" required data-testid="incident-resume">
                                    <option value="from_start">{format!("Resume from offset {} (the log's start)", i.log_start)}</option>
                                    <option value="from_end">{format!("Resume from offset {} (the end when found; skips {skipped})", i.log_end)}</option>
                                    <option value="keep_paused">"Keep paused"</option>
                                </select>
                            }
                        });
                        let label = if i.paused { "Decide" } else { "Resolve" };
                        view! {
                            <tr data-testid="admin-log-incident">
                                <td class="mono">{i.detected_at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                                <td>
                                    {i.describe()}
                                    {i.paused.then(|| view! { <span class="badge warn" data-testid="incident-paused">"paused"</span> })}
                                    {i.action.clone().map(|a| view! { <div class="muted">{a}</div> })}
                                </td>
                                <td>
                                    <ActionIsland action=FormAction::ResolveIncident class="inline">
                                        <CsrfField />
                                        <input type="hidden" name="id" value=i.id.to_string() />
                                        {decision}
                                        <label class="sr-only" for=note.clone()>"What was done"</label>
                                        <input id=note name="note" required maxlength="500" placeholder="what was done" />
                                        <button class="btn" type="submit">{label}</button>
                                    </ActionIsland>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    })
}

#[component]
fn Kafka(k: KafkaView) -> impl IntoView {
    let lag = |l: Option<i64>| l.map(|l| l.to_string()).unwrap_or_else(|| "?".into());
    view! {
        <section class="card" aria-labelledby="kafka-h" data-testid="kafka">
            <h2 id="kafka-h">"Kafka"</h2>
            <dl class="facts">
                <dt>"Brokers"</dt><dd class="mono">{k.brokers}</dd>
                <dt>"Security protocol"</dt><dd data-testid="kafka-protocol">{k.security_protocol}</dd>
                {k.error.map(|e| view! { <dt>"Problem"</dt><dd class="error" data-testid="kafka-error">{e}</dd> })}
            </dl>
            {(!k.properties.is_empty()).then(|| view! {
                <table class="grid compact" data-testid="kafka-properties">
                    <caption>"Client properties (secrets masked)"</caption>
                    <thead><tr><th scope="col">"Property"</th><th scope="col">"Value"</th></tr></thead>
                    <tbody>
                        {k.properties.into_iter().map(|(name, value)| view! {
                            <tr><td class="mono">{name}</td><td class="mono">{value}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            <table class="grid compact" data-testid="kafka-topics">
                <caption>"What each topic setting matched"</caption>
                <thead><tr>
                    <th scope="col">"Reads"</th><th scope="col">"Name or pattern"</th>
                    <th scope="col">"Topics matched (partitions, lag)"</th>
                </tr></thead>
                <tbody>
                    {k.entries.into_iter().map(|e| {
                        let matched = if e.topics.is_empty() {
                            view! { <span class="muted">"none yet"</span> }.into_any()
                        } else {
                            e.topics.into_iter().map(|t| view! {
                                <div class="mono">{format!("{} ({}, lag {})", t.topic, t.partitions, lag(t.lag))}</div>
                            }).collect_view().into_any()
                        };
                        view! {
                            <tr data-testid="kafka-entry">
                                <td>{e.kind}</td><td class="mono">{e.entry}</td><td>{matched}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn Audit() -> impl IntoView {
    let query = use_query_map().get_untracked();
    let text = |k: &str| query.get(k).filter(|v| !v.trim().is_empty());
    let filter = AuditFilter {
        actor: text("actor"),
        action: text("action"),
        target: text("target"),
        before: query.get("before").and_then(|v| v.parse().ok()),
    };
    let rows = Resource::new(
        {
            let filter = filter.clone();
            move || filter.clone()
        },
        audit_log,
    );
    let value = |k: &str| query.get(k).unwrap_or_default();
    view! {
        <section class="card" aria-labelledby="audit-h">
            <h2 id="audit-h">"Audit log"</h2>
            <form method="get" action="/admin" class="form-row" role="search">
                <label>"Actor" <input name="actor" value=value("actor") /></label>
                <label>"Action" <input name="action" value=value("action") placeholder="login, replay…" /></label>
                <label>"Target" <input name="target" value=value("target") /></label>
                <button class="btn" type="submit">"Filter"</button>
            </form>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    let f = filter.clone();
                    Suspend::new(async move {
                    match rows.await {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(rows) => {
                            let older = (rows.len() as i64 == AUDIT_PAGE).then(|| rows.last().map(|r| r.id)).flatten();
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
                })}}
            </Suspense>
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
    use crate::ops::percent_encode;
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}
