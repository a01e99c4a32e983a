//! One order: its status, the saga timeline (execute and compensate steps on one
//! timeline, with the time each took), every stored event with its position and
//! correlation, and its dead letters; operators' commands to the saga on the same timeline,
//! and the form that sends one ([`super::saga_actions`]).

use crate::console::{breaker_class, FailureContext, LogGap, OrderAsOf};
use crate::ops::{money, order_href, percent_encode, OrderDetail, SagaStepView};
use crate::pages::saga_actions::SagaActionsPanel;
use crate::saga::CommandView;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

/// What the order page shows besides the projection: the order as of a version (time
/// travel, `?as_of=N`) and the breakers' states at each failed step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderHistory {
    pub as_of: Option<OrderAsOf>,
    pub failures: Vec<FailureContext>,
    /// Records lost before ingest read them where they may have held this order's events.
    pub gaps: Vec<LogGap>,
}

#[server(input = GetUrl, output = crate::codec::Json)]
pub async fn load_order_history(
    order_id: String,
    as_of: Option<i64>,
) -> Result<OrderHistory, ServerFnError> {
    let console = crate::console::console_model()?;
    if order_id.len() > 200 {
        return Err(ServerFnError::new("order id too long"));
    }
    let err = |e: crate::ops::OpsError| {
        crate::ops::model::failed("could not load the order's history")(e)
    };
    let as_of = match as_of {
        Some(v) => console.order_as_of(&order_id, v).await.map_err(err)?,
        None => None,
    };
    let failures = console.failure_context(&order_id).await.map_err(err)?;
    let gaps = console.order_gaps(&order_id).await.map_err(err)?;
    Ok(OrderHistory {
        as_of,
        failures,
        gaps,
    })
}

#[server(input = GetUrl, output = crate::codec::Json)]
pub async fn load_order_detail(order_id: String) -> Result<Option<OrderDetail>, ServerFnError> {
    let ops = crate::ops::read_model()?;
    if order_id.len() > 200 {
        return Err(ServerFnError::new("order id too long"));
    }
    ops.order_detail(&order_id)
        .await
        .map_err(crate::ops::model::failed("could not load the order"))
}

/// One line of the saga timeline: a step (its index and the gap from the previous step)
/// or an operator's command.
pub enum Line {
    Step(usize, SagaStepView, Option<i64>),
    Command(CommandView),
}

/// Steps and commands on one timeline, in time order (a command before the steps it
/// caused, when they share a millisecond).
pub fn timeline(
    steps: Vec<SagaStepView>,
    gaps: Vec<Option<i64>>,
    commands: Vec<CommandView>,
) -> Vec<Line> {
    let mut lines: Vec<(chrono::DateTime<chrono::Utc>, u8, Line)> = steps
        .into_iter()
        .zip(gaps)
        .enumerate()
        .map(|(i, (s, g))| (s.at, 1, Line::Step(i, s, g)))
        .collect();
    lines.extend(
        commands
            .into_iter()
            .map(|c| (c.requested_at, 0, Line::Command(c))),
    );
    lines.sort_by_key(|(at, rank, _)| (*at, *rank));
    lines.into_iter().map(|(_, _, l)| l).collect()
}

/// Milliseconds from the previous step, for the timeline ("+120 ms").
pub fn step_gaps(steps: &[SagaStepView]) -> Vec<Option<i64>> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            i.checked_sub(1)
                .map(|p| (s.at - steps[p].at).num_milliseconds())
        })
        .collect()
}

#[component]
pub fn OrderDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let query = use_query_map();
    let as_of = move || {
        query
            .read()
            .get("as_of")
            .and_then(|v| v.parse::<i64>().ok())
    };
    let detail = Resource::new(id, load_order_detail);
    let history = Resource::new(move || (id(), as_of()), |(id, v)| load_order_history(id, v));
    view! {
        <section class="page">
            <p class="crumbs"><a href="/orders">"Orders"</a>" / "<span class="mono">{id}</span></p>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(Some(d)) => view! {
                            <Detail d />
                            <Transition fallback=|| ()>
                                {move || Suspend::new(async move {
                                    match history.await {
                                        Ok(h) => view! { <History h /> }.into_any(),
                                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                                    }
                                })}
                            </Transition>
                        }.into_any(),
                        Ok(None) => view! { <p class="empty">"No such order."</p> }.into_any(),
                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Detail(d: OrderDetail) -> impl IntoView {
    let o = d.order;
    let total = o.total_display();
    let gaps = step_gaps(&d.steps);
    let no_steps = d.steps.is_empty();
    let status_class = format!("status status-{}", o.status);
    let self_href = order_href(&o.order_id);
    let customer_href = o
        .customer_id
        .as_deref()
        .map(|c| format!("/orders?q={}", percent_encode(c)));
    view! {
        <header class="page-head">
            <h1 class="mono">{o.order_id.clone()}</h1>
            <span class=status_class data-testid="order-status">{o.status.as_str()}</span>
        </header>
        <dl class="facts">
            <dt>"Customer"</dt><dd>{customer_href.map(|h| view! { <a href=h>{o.customer_id.clone().unwrap_or_default()}</a> })}</dd>
            <dt>"Total"</dt><dd>{total}</dd>
            <dt>"Items"</dt><dd>{o.item_count.map(|n| n.to_string()).unwrap_or_default()}</dd>
            <dt>"Current step"</dt>
            <dd>{d.current_step.clone().unwrap_or_default()}" "{d.step_status.clone().unwrap_or_default()}</dd>
            <dt>"Failure"</dt><dd class="error">{o.failure_reason.clone().unwrap_or_default()}</dd>
        </dl>

        {d.history_aged_out_before.map(|h| view! {
            <div class="incident-banner" role="status" data-testid="history-aged-out">
                <strong>"Part of this order's history is gone: "</strong>
                "events ingested before "<span class="mono">{h.format("%Y-%m-%d %H:%M:%S").to_string()}</span>
                " have aged out of the event store (retention). The order's state above is kept; the timeline and events below start at the first event still kept."
            </div>
        })}
        <h2>"Saga timeline"</h2>
        <Show when=move || no_steps>
            <p class="empty">"No saga steps yet."</p>
        </Show>
        <ol class="timeline" data-testid="timeline">
            {timeline(d.steps, gaps, d.actions.commands.clone()).into_iter().map(|line| match line {
                Line::Step(i, s, gap) => {
                    let class = format!("tl-step {} {}", s.action, s.status);
                    let (anchor, action) = (format!("step-{}", i + 1), s.action.clone());
                    view! {
                        <li class=class id=anchor data-action=action>
                            <span class="mono">{s.at.format("%H:%M:%S%.3f").to_string()}</span>
                            <span class="gap">{gap.map(|g| format!("+{g} ms")).unwrap_or_default()}</span>
                            <strong>{s.step}</strong>
                            <span class="badge">{s.action}</span>
                            <span class="badge">{s.status}</span>
                            <span class="error">{s.error.unwrap_or_default()}</span>
                        </li>
                    }.into_any()
                }
                Line::Command(c) => view! {
                    <li class=format!("tl-command {}", c.status) data-testid="timeline-command" data-action=c.action.as_str()>
                        <span class="mono">{c.requested_at.format("%H:%M:%S%.3f").to_string()}</span>
                        <span class="gap">"operator"</span>
                        <strong>{c.describe()}</strong>
                        <span class="badge" data-testid="command-status">{c.status.clone()}</span>
                        <span class="hint">{c.detail.clone().unwrap_or_default()}</span>
                    </li>
                }.into_any(),
            }).collect_view()}
        </ol>
        <SagaActionsPanel order_id=o.order_id.clone() actions=d.actions.clone() />

        <h2>"Events"</h2>
        <table class="grid" data-testid="events">
            <thead><tr>
                <th scope="col" class="num">"#"</th><th scope="col">"Time"</th><th scope="col">"Type"</th><th scope="col" class="num">"Version"</th>
                <th scope="col">"Position"</th><th scope="col">"Source"</th><th scope="col">"Correlation"</th>
                <th scope="col">"Causation"</th>
            </tr></thead>
            <tbody>
                {d.events.into_iter().enumerate().map({
                    // Where each event id was first seen: a later row with the same id is
                    // the same event delivered again (a producer's retry, a replay).
                    let mut first_seen = std::collections::HashMap::<String, usize>::new();
                    move |(i, e)| {
                    let n = i + 1;
                    let again = e.event_id.clone().and_then(|id| match first_seen.get(&id) {
                        Some(first) => Some(*first),
                        None => {
                            first_seen.insert(id, n);
                            None
                        }
                    });
                    let (row_id, at_href) = (format!("v-{n}"), format!("{self_href}?as_of={n}#as-of"));
                    let corr_href = e.correlation_id.as_deref().map(|c| format!("/orders?q={}", percent_encode(c)));
                    view! {
                    <tr id=row_id>
                        <td class="num"><a href=at_href title="State as of this version" data-testid="as-of-link">{n}</a></td>
                        <td class="mono">{e.occurred_at.format("%H:%M:%S%.3f").to_string()}</td>
                        <td>{e.event_type}
                            {again.map(|first| view! {
                                <span class="badge warn" data-testid="redelivered"
                                    title="Same event id as an earlier row: delivered again, not a new event">
                                    {format!("again (#{first})")}
                                </span>
                            })}
                        </td>
                        <td class="num">{e.version.map(|v| v.to_string()).unwrap_or_default()}</td>
                        <td class="mono">{format!("{}/{}@{}", e.topic, e.partition, e.offset)}</td>
                        <td>{e.source.unwrap_or_default()}</td>
                        <td class="mono">{match corr_href {
                            Some(h) => view! { <a href=h>{e.correlation_id.unwrap_or_default()}</a> }.into_any(),
                            None => ().into_any(),
                        }}</td>
                        <td class="mono">{e.causation_id.unwrap_or_default()}</td>
                    </tr>
                }}}).collect_view()}
            </tbody>
        </table>

        <h2>"Dead letters"</h2>
        {if d.dead_letters.is_empty() {
            view! { <p class="empty">"None."</p> }.into_any()
        } else {
            view! {
                <table class="grid" data-testid="dead-letters">
                    <thead><tr>
                        <th scope="col">"Failed"</th><th scope="col">"Original topic"</th>
                        <th scope="col">"Error"</th><th scope="col">"Dialect"</th><th scope="col">"Status"</th>
                    </tr></thead>
                    <tbody>
                        {d.dead_letters.into_iter().map(|x| view! {
                            <tr>
                                <td class="mono">{x.failed_at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                                <td>{x.original_topic}</td>
                                <td>{x.exception_message.unwrap_or_default()}</td>
                                <td>{x.dialect}</td>
                                <td>{x.status.as_str()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

#[component]
fn History(h: OrderHistory) -> impl IntoView {
    let failures = h.failures;
    let no_failures = failures.is_empty();
    let gaps = (!h.gaps.is_empty()).then(|| view! {
        <div class="incident-banner" role="alert" data-testid="order-gaps">
            <strong>"This order's history may be incomplete: records expired before ingest read them."</strong>
            <ul>
                {h.gaps.into_iter().map(|g| view! {
                    <li data-testid="order-gap">
                        {format!("{}/{}: offsets {}..{} were lost", g.topic, g.partition, g.from, g.to)}
                        " (found "<span class="mono">{g.detected_at.format("%Y-%m-%d %H:%M:%S").to_string()}</span>")"
                    </li>
                }).collect_view()}
            </ul>
        </div>
    });
    view! {
        {gaps}
        <h2 id="as-of">"Time travel"</h2>
        {match h.as_of {
            None => view! {
                <p class="hint">"Pick a version (#) in the event history to see the order as it stood then, folded from its events up to that one."</p>
            }.into_any(),
            Some(a) => {
                let prev = (a.version > 1).then(|| format!("?as_of={}#as-of", a.version - 1));
                let next = (a.version < a.versions).then(|| format!("?as_of={}#as-of", a.version + 1));
                let total = money(a.total_cents, a.currency.as_deref());
                view! {
                    <div class="card as-of" data-testid="as-of">
                        <p>
                            <strong>{format!("As of version {} of {}", a.version, a.versions)}</strong>
                            " — after "<code>{a.event_type.clone()}</code>" at "
                            <span class="mono">{a.occurred_at.format("%Y-%m-%d %H:%M:%S%.3f").to_string()}</span>
                        </p>
                        <dl class="facts">
                            <dt>"Status"</dt><dd><span class=format!("status status-{}", a.status) data-testid="as-of-status">{a.status.as_str()}</span></dd>
                            <dt>"Saga step"</dt><dd>{a.step.clone().unwrap_or_default()}</dd>
                            <dt>"Customer"</dt><dd>{a.customer_id.clone().unwrap_or_default()}</dd>
                            <dt>"Total"</dt><dd>{total}</dd>
                            <dt>"Items"</dt><dd>{a.item_count.map(|n| n.to_string()).unwrap_or_default()}</dd>
                            <dt>"Failure"</dt><dd class="error">{a.failure_reason.clone().unwrap_or_default()}</dd>
                        </dl>
                        <nav class="form-row" aria-label="Versions">
                            {prev.map(|h| view! { <a class="btn" href=h>"← Earlier"</a> })}
                            {next.map(|h| view! { <a class="btn" href=h>"Later →"</a> })}
                            <a class="btn" href="?">"Current state"</a>
                        </nav>
                    </div>
                }.into_any()
            }
        }}
        <h2>"Breakers at each failure"</h2>
        <Show when=move || no_failures>
            <p class="empty">"No failed step."</p>
        </Show>
        <ul class="failures" data-testid="failure-breakers">
            {failures.into_iter().map(|f| view! {
                <li>
                    <p>
                        <strong>{format!("{}:{} failed", f.step, f.action)}</strong>" at "
                        <span class="mono">{f.at.format("%H:%M:%S%.3f").to_string()}</span>" "
                        <span class="error">{f.error.clone().unwrap_or_default()}</span>
                    </p>
                    {if f.breakers.is_empty() {
                        view! { <p class="hint">"No breaker transition recorded before this failure."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="breakers-at">
                                {f.breakers.into_iter().map(|b| {
                                    let class = format!("breaker-state {}", breaker_class(b.state));
                                    view! {
                                        <li>
                                            <a href="/breakers">{format!("{}/{}", b.service, b.breaker)}</a>" "
                                            <span class=class>{b.state.as_str()}</span>
                                            <span class="hint">{format!(" since {}", b.since.format("%H:%M:%S"))}</span>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                </li>
            }).collect_view()}
        </ul>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    #[test]
    fn gaps_are_measured_from_the_previous_step() {
        let step = |ms: i64| SagaStepView {
            step: "s".into(),
            action: "execute".into(),
            status: "succeeded".into(),
            error: None,
            attempt: 1,
            at: DateTime::<Utc>::from_timestamp_millis(ms).unwrap(),
        };
        assert_eq!(
            step_gaps(&[step(1000), step(1120), step(1500)]),
            vec![None, Some(120), Some(380)]
        );
        assert!(step_gaps(&[]).is_empty());
    }
}
