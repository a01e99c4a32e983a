//! The dead-letter console: groups by original topic and by error, a filter (a GET form,
//! so it works without JavaScript), the list with checkboxes, and replays — one, the
//! selected ones, or all matching — each previewed by a dry run and confirmed before a
//! job starts. Jobs and their live progress are shown by [`super::replay_jobs`].
//!
//! Selected rows can also be discarded, with a required reason, after a confirmation
//! panel that names how many.
//!
//! Every action is a form: without JavaScript the browser posts it and comes back here;
//! with it, the same forms run as server-function calls ([`crate::forms::ActionIsland`]).
//! The page itself renders on the server only; its islands are the jobs panel and the
//! confirm and discard forms.

use super::replay_jobs::JobsPanel;
use crate::dlq::server_fns::*;
use crate::dlq::*;
use crate::forms::{ActionIsland, FlashMessage, FormAction};
use crate::session::{self, CsrfField, IfRole};
use crate::states::DeadLetterStatus;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// What the page was asked to preview: `?preview=selected&ids[]=…`, `?preview=filter`,
/// one row's `?one=<id>`, or `?preview=discard&ids[]=…` (discard the selected).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Preview {
    None,
    Ids(Vec<i64>),
    Filter,
    Discard(Vec<i64>),
}

pub fn preview_of(get_all: impl Fn(&str) -> Vec<String>) -> Preview {
    let first = |k: &str| get_all(k).into_iter().next().unwrap_or_default();
    if let Ok(id) = first("one").parse::<i64>() {
        return Preview::Ids(vec![id]);
    }
    let ids = || {
        get_all("ids[]")
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect()
    };
    match first("preview").as_str() {
        "selected" => Preview::Ids(ids()),
        "discard" => Preview::Discard(ids()),
        "filter" => Preview::Filter,
        _ => Preview::None,
    }
}

#[component]
pub fn DeadLettersPage() -> impl IntoView {
    let query = use_query_map();
    let (form, after, preview, highlight) = query.with_untracked(|q| {
        (
            FilterForm::from_query(|k| q.get(k)),
            q.get("after"),
            preview_of(|k| q.get_all(k).unwrap_or_default()),
            q.get("job"),
        )
    });
    let filter = form.to_filter();
    let jobs = Resource::new(|| (), |_| load_replay_jobs());
    let groups = Resource::new(
        {
            let filter = filter.clone();
            move || filter.clone()
        },
        load_dead_letter_groups,
    );
    let page = Resource::new(
        move || (filter.clone(), after.clone()),
        |(f, after)| load_dead_letter_page(f, after),
    );
    let panel = match preview {
        Preview::None => ().into_any(),
        Preview::Discard(ids) => view! { <DiscardPanel ids form=form.clone() /> }.into_any(),
        p => view! { <PreviewPanel preview=p form=form.clone() /> }.into_any(),
    };

    view! {
        <section class="page dlq">
            <header class="page-head">
                <h1>"Dead letters"</h1>
            </header>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    let highlight = highlight.clone();
                    Suspend::new(async move {
                        let (jobs, error) = crate::ops::loaded_or_error(jobs.await);
                        view! { <JobsPanel jobs error highlight session=session::current() /> }
                    })
                }}
            </Suspense>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match groups.await {
                        Ok(g) => view! { <Groups g /> }.into_any(),
                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
            <FilterFields f=form.clone() />
            {panel}
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    let form = form.clone();
                    Suspend::new(async move {
                        match page.await {
                            Ok(p) => view! { <List page=p form /> }.into_any(),
                            Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                        }
                    })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn Groups(g: DeadLetterGroups) -> impl IntoView {
    let table = |title: &'static str, field: &'static str, rows: Vec<DeadLetterGroup>| {
        view! {
            <div class="group-card">
                <h2>{title}</h2>
                <table class="grid compact" data-testid=format!("groups-{field}")>
                    <thead><tr>
                        <th scope="col">{match field {
                            "topic" => "Original topic",
                            "dlq_topic" => "Dead-letter topic",
                            _ => "Error",
                        }}</th>
                        <th scope="col" class="num">"Count"</th><th scope="col" class="num">"Pending"</th>
                        <th scope="col">"First seen"</th><th scope="col">"Last seen"</th>
                    </tr></thead>
                    <tbody>
                        {rows.into_iter().map(|r| {
                            let href = format!("/dead-letters?{field}={}", percent_encode(&r.label));
                            view! {
                                <tr>
                                    <td class="label"><a href=href>{r.label}</a></td>
                                    <td class="num">{r.count}</td>
                                    <td class="num">{r.pending}</td>
                                    <td class="mono">{r.first_seen.format("%m-%d %H:%M:%S").to_string()}</td>
                                    <td class="mono">{r.last_seen.format("%m-%d %H:%M:%S").to_string()}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
    };
    if g.by_topic.is_empty() {
        return view! { <p class="empty">"No dead letters match."</p> }.into_any();
    }
    view! {
        <div class="groups">
            {table("By original topic", "topic", g.by_topic)}
            {table("By dead-letter topic", "dlq_topic", g.by_dlq_topic)}
            {table("By error", "error", g.by_error)}
        </div>
    }
    .into_any()
}

#[component]
fn FilterFields(f: FilterForm) -> impl IntoView {
    view! {
        <form class="filters" method="get" action="/dead-letters" data-testid="filters">
            <label>"Topic"<input name="topic" value=f.topic.clone() placeholder="payment.completed" /></label>
            <label>"Error"<input name="error" value=f.error.clone() placeholder="timeout" /></label>
            <label>"Status"
                <select name="status">
                    <option value="" selected=f.status.is_empty()>"any"</option>
                    {DeadLetterStatus::ALL.iter().map(|s| {
                        let selected = f.status == s.as_str();
                        view! { <option value=s.as_str() selected=selected>{s.as_str().replace('_', " ")}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>"Key"<input name="key" value=f.key.clone() placeholder="ORD-1042" /></label>
            <label>"Dead-letter topic"<input name="dlq_topic" value=f.dlq_topic.clone() placeholder="orders.DLT" /></label>
            <label>"Payload"<input name="payload" value=f.payload.clone() placeholder="ORD-1042 or \"sku\"" /></label>
            <label>"Since"<input type="datetime-local" name="since" value=f.since.clone() /></label>
            <label>"Until"<input type="datetime-local" name="until" value=f.until.clone() /></label>
            <button class="btn" type="submit">"Filter"</button>
            <a class="btn link" href="/dead-letters">"Clear"</a>
        </form>
    }
}

/// Hidden inputs carrying the filter as the page query has it.
fn filter_inputs(f: &FilterForm) -> impl IntoView {
    FilterForm::FIELDS
        .iter()
        .filter(|k| !f.get(k).is_empty())
        .map(|k| view! { <input type="hidden" name=*k value=f.get(k).to_string() /> })
        .collect_view()
}

/// The filter as (name, value) pairs in the shape the job server function takes.
fn job_filter_fields(f: &FilterForm) -> Vec<(String, String)> {
    let filter = f.to_filter();
    let mut fields: Vec<(&str, String)> = Vec::new();
    for (k, v) in [
        ("topic", filter.topic),
        ("error", filter.error),
        ("status", filter.status),
        ("key", filter.key),
        ("dlq_topic", filter.dlq_topic),
        ("payload", filter.payload),
    ] {
        if let Some(v) = v {
            fields.push((k, v));
        }
    }
    if let Some(t) = filter.since {
        fields.push(("since", t.to_rfc3339()));
    }
    if let Some(t) = filter.until {
        fields.push(("until", t.to_rfc3339()));
    }
    fields
        .into_iter()
        .map(|(k, v)| (format!("filter[{k}]"), v))
        .collect()
}

#[component]
fn PreviewPanel(preview: Preview, form: FilterForm) -> impl IntoView {
    let (scope, ids) = match &preview {
        Preview::Ids(ids) => ("selected", ids.clone()),
        _ => ("filter", Vec::new()),
    };
    let filter = form.to_filter();
    let ids_for_dry_run = ids.clone();
    let dry = Resource::new(
        || (),
        move |_| {
            replay_dry_run(
                scope.to_string(),
                Some(ids_for_dry_run.clone()),
                Some(filter.clone()),
            )
        },
    );
    let cancel_href = if form.query().is_empty() {
        "/dead-letters".to_string()
    } else {
        format!("/dead-letters?{}", form.query())
    };
    view! {
        <section class="preview" data-testid="preview" aria-label="Replay preview">
            <h2>{match scope { "selected" => format!("Replay {} selected", ids.len()), _ => "Replay all matching".to_string() }}</h2>
            <Suspense fallback=|| view! { <p>"Working out what would be sent…"</p> }>
                {move || {
                    let mut fields: Vec<(String, String)> =
                        ids.iter().map(|id| ("ids[]".to_string(), id.to_string())).collect();
                    fields.extend(job_filter_fields(&form));
                    let hidden = StoredValue::new(fields);
                    let cancel_href = StoredValue::new(cancel_href.clone());
                    Suspend::new(async move {
                        let d = match dry.await {
                            Ok(d) => d,
                            Err(e) => return view! { <p class="error">{e.to_string()}</p> }.into_any(),
                        };
                        let nothing = d.to_send + d.to_park == 0;
                        let strip = d.strip_headers.join(", ");
                        let hold_on = d.hold_on.join(", ");
                        let holding_now = d.holding_now.clone();
                        let busy = !d.busy_topics.is_empty();
                        view! {
                            <p data-testid="dry-run-summary">
                                <strong>{d.to_send}</strong>" would be sent"
                                {(d.to_park > 0).then(|| format!(", {} parked (replayed too often)", d.to_park))}
                                {format!(" — {} in scope.", d.matched)}
                            </p>
                            <div class="groups">
                                <LabelTable title="To topic" rows=d.by_target.clone() />
                                <LabelTable title="Error" rows=d.by_error.clone() />
                                <LabelTable title="Not replayable" rows=d.not_replayable.clone() />
                            </div>
                            {busy.then(|| view! {
                                <p class="error">"A replay job is already running for "{d.busy_topics.join(", ")}"."</p>
                            })}
                            <IfRole role=crate::auth::Role::Operator>
                            <ActionIsland action=FormAction::StartReplayJob class="confirm" testid="confirm-form">
                                <CsrfField />
                                <input type="hidden" name="scope" value=scope />
                                {hidden.get_value().into_iter().map(|(name, value)| view! { <input type="hidden" name=name value=value /> }).collect_view()}
                                <label>"Throttle (msgs/s, 0 = unthrottled)"
                                    <input type="number" name="throttle" min="0" max="100000" value="0" />
                                </label>
                                <label class="wide">"Strip headers (prefixes)"
                                    <input name="strip_headers" value=strip />
                                </label>
                                <label class="wide">"Wait while these breakers are not closed (blank: never wait)"
                                    <input name="hold_on" value=hold_on data-testid="hold-on" />
                                </label>
                                {holding_now.map(|h| view! {
                                    <p class="note" data-testid="holding-now">"The job would start by "{h}"; it sends once the breaker closes."</p>
                                })}
                                <button class="btn primary" type="submit" disabled=nothing || busy data-testid="confirm-replay">
                                    "Confirm replay"
                                </button>
                                <a class="btn link" href=cancel_href.get_value()>"Back"</a>
                            </ActionIsland>
                            </IfRole>
                        }.into_any()
                    })
                }}
            </Suspense>
        </section>
    }
}

/// Discarding the selected rows: how many, a required reason, and a confirm button. The
/// server refuses a blank reason and anything not pending, parked or failed again.
#[component]
fn DiscardPanel(ids: Vec<i64>, form: FilterForm) -> impl IntoView {
    let back = if form.query().is_empty() {
        "/dead-letters".to_string()
    } else {
        format!("/dead-letters?{}", form.query())
    };
    let n = ids.len();
    // The role check's children may render more than once: they read these, not own them.
    let ids = StoredValue::new(ids);
    let back = StoredValue::new(back);
    view! {
        <section class="preview" data-testid="discard-preview" aria-label="Discard selected">
            <h2>{format!("Discard {n} selected")}</h2>
            {(n == 0).then(|| view! { <p class="error">"Select the dead letters to discard first."</p> })}
            <IfRole role=crate::auth::Role::Operator>
            <ActionIsland action=FormAction::Discard class="confirm" testid="discard-selected-form">
                <CsrfField />
                {ids.get_value().into_iter().map(|id| view! { <input type="hidden" name="ids[]" value=id.to_string() /> }).collect_view()}
                <label class="wide">"Reason (kept in the audit log)"
                    <input name="reason" required=true maxlength="1000" placeholder="why these will never be replayed" />
                </label>
                <button class="btn danger" type="submit" disabled=n == 0 data-testid="confirm-discard">
                    "Discard"
                </button>
                <a class="btn link" href=back.get_value()>"Back"</a>
            </ActionIsland>
            </IfRole>
            <FlashMessage of=FormAction::Discard testid="discard-result" />
        </section>
    }
}

#[component]
fn LabelTable(title: &'static str, rows: Vec<LabelCount>) -> impl IntoView {
    (!rows.is_empty()).then(|| {
        view! {
            <table class="grid compact">
                <thead><tr><th scope="col">{title}</th><th scope="col" class="num">"Count"</th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|r| view! {
                        <tr><td class="label">{r.label.replace('_', " ")}</td><td class="num">{r.count}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
    })
}

#[component]
fn List(page: DeadLetterPage, form: FilterForm) -> impl IntoView {
    let next = page.next.clone().map(|c| {
        let q = form.query();
        format!(
            "/dead-letters?{q}{}after={}",
            if q.is_empty() { "" } else { "&" },
            percent_encode(&c)
        )
    });
    let empty = page.rows.is_empty();
    view! {
        <form method="get" action="/dead-letters" class="list" data-testid="list-form">
            {filter_inputs(&form)}
            <IfRole role=crate::auth::Role::Operator>
                <div class="actions">
                    <button class="btn" type="submit" name="preview" value="selected" data-testid="replay-selected">
                        "Replay selected…"
                    </button>
                    <button class="btn" type="submit" name="preview" value="filter" data-testid="replay-filter">
                        "Replay all matching…"
                    </button>
                    <button class="btn danger" type="submit" name="preview" value="discard" data-testid="discard-selected">
                        "Discard selected…"
                    </button>
                </div>
            </IfRole>
            <table class="grid" data-testid="dead-letters">
                <thead><tr>
                    <th scope="col"><span class="visually-hidden">"Select"</span></th>
                    <th scope="col" class="num">"#"</th><th scope="col">"Failed"</th>
                    <th scope="col">"Original topic"</th><th scope="col">"Key"</th>
                    <th scope="col">"Error"</th><th scope="col">"Dialect"</th>
                    <th scope="col">"Status"</th><th scope="col" class="num">"Replays"</th><th scope="col"></th>
                </tr></thead>
                <tbody>
                    {page.rows.into_iter().map(|d| view! { <Row d /> }).collect_view()}
                    {empty.then(|| view! { <tr><td colspan="10" class="empty">"No dead letters match."</td></tr> })}
                </tbody>
            </table>
        </form>
        {next.map(|href| view! { <p class="pager"><a href=href data-testid="next-page">"Older →"</a></p> })}
    }
}

#[component]
fn Row(d: DeadLetterItem) -> impl IntoView {
    let status_class = format!("status dl-{}", d.status);
    let pending = d.status.replayable();
    // Selectable while something can still be done with it (replayed or discarded); the
    // dry run and the discard say which of the selected are not replayable.
    let selectable = d.status.discardable();
    let key_view = match (&d.order_id, &d.key) {
        (Some(o), _) => view! { <a href=crate::ops::order_href(o)>{o.clone()}</a> }.into_any(),
        (None, Some(k)) => view! { <span>{k.clone()}</span> }.into_any(),
        _ => ().into_any(),
    };
    let label = format!("Select dead letter {}", d.id);
    view! {
        <tr data-dead-letter-id=d.id.to_string()>
            <td><input type="checkbox" name="ids[]" value=d.id.to_string() disabled=!selectable aria-label=label /></td>
            <td class="num mono"><a href=dead_letter_href(d.id)>{d.id}</a></td>
            <td class="mono">{d.failed_at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
            <td>{d.original_topic}</td>
            <td class="mono">{key_view}</td>
            <td class="error-text">{d.error.unwrap_or_default()}
                {d.parse_note.map(|n| view! { <span class="badge warn" title=n.clone()>"unreadable parts"</span> })}
            </td>
            <td>{d.dialect}</td>
            <td><span class=status_class>{d.status.as_str().replace('_', " ")}</span></td>
            <td class="num">{d.replay_count}</td>
            <td>{pending.then(|| view! {
                <button class="btn small" type="submit" name="one" value=d.id.to_string()>"Replay…"</button>
            })}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_come_from_the_query() {
        let q = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .filter(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(preview_of(q(&[])), Preview::None);
        assert_eq!(preview_of(q(&[("one", "7")])), Preview::Ids(vec![7]));
        assert_eq!(
            preview_of(q(&[
                ("preview", "selected"),
                ("ids[]", "1"),
                ("ids[]", "x"),
                ("ids[]", "3")
            ])),
            Preview::Ids(vec![1, 3])
        );
        assert_eq!(preview_of(q(&[("preview", "filter")])), Preview::Filter);
        assert_eq!(
            preview_of(q(&[("preview", "discard"), ("ids[]", "4")])),
            Preview::Discard(vec![4])
        );
    }
}
