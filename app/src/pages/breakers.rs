//! Breakers (`/breakers`): every service × breaker with its state, rates, calls and last
//! transition, and a history chart of transitions against dead-letter inflow.

use super::overview::{Chart, ChartView, RangeLinks};
use crate::console::{breaker_class, rate_display, BreakerView, Range, TransitionView};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BreakersView {
    pub range: Range,
    pub breakers: Vec<BreakerView>,
    /// Newest first, at most 50.
    pub transitions: Vec<TransitionView>,
    pub chart: ChartView,
}

#[server(input = GetUrl, output = crate::codec::Json)]
pub async fn load_breakers(range: String) -> Result<BreakersView, ServerFnError> {
    use crate::charts::{Paint, TimeChart, YUnit};
    let console = crate::console::console_model()?;
    let range = Range::parse(&range);
    let d = console
        .breakers(range)
        .await
        .map_err(crate::ops::model::failed("could not load breakers"))?;
    let chart = TimeChart {
        title: "Breaker transitions against dead-letter inflow",
        from: d.from,
        to: d.to,
        lines: vec![],
        area: Some((&d.dlq_inflow, Paint::Blue)),
        marks: super::overview::transition_marks(&d.transitions),
        unit: YUnit::Count,
    };
    let mut legend = vec![("dead letters".to_string(), Paint::Blue.class().to_string())];
    legend.extend(super::overview::transition_legend());
    let chart = ChartView {
        id: "breaker-history".into(),
        title: chart.title.into(),
        svg: chart.render(),
        legend,
    };
    let mut transitions = d.transitions;
    transitions.reverse();
    transitions.truncate(50);
    Ok(BreakersView {
        range,
        breakers: d.breakers,
        transitions,
        chart,
    })
}

fn opt(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "—".into())
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

#[component]
pub fn BreakersPage() -> impl IntoView {
    let query = use_query_map();
    let range = move || Range::parse(&query.read().get("range").unwrap_or_default());
    let data = Resource::new(range, |r| load_breakers(r.key().to_string()));
    view! {
        <section class="page breakers">
            <header class="page-head">
                <h1>"Breakers"</h1>
                {move || view! { <RangeLinks base="/breakers" current=range() /> }}
            </header>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(b) => view! { <BreakersBody b /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn BreakersBody(b: BreakersView) -> impl IntoView {
    let empty = b.breakers.is_empty();
    let no_transitions = b.transitions.is_empty();
    view! {
        <table class="grid" data-testid="breakers">
            <thead><tr>
                <th scope="col">"Service"</th><th scope="col">"Breaker"</th><th scope="col">"State"</th>
                <th scope="col" class="num">"Failure rate"</th><th scope="col" class="num">"Slow-call rate"</th>
                <th scope="col" class="num">"Calls"</th><th scope="col" class="num">"Failures"</th>
                <th scope="col" class="num">"Not permitted"</th><th scope="col">"Last transition"</th>
            </tr></thead>
            <tbody>
                {b.breakers.into_iter().map(|r| {
                    let class = format!("breaker-state {}", breaker_class(r.state));
                    let last = r.last_transition.map(|t| format!("{} → {} at {}", t.from_state, t.to_state, time(t.at)))
                        .unwrap_or_else(|| format!("{} since {}", r.state, time(r.state_at)));
                    let key = format!("{}/{}", r.service, r.breaker);
                    view! {
                        <tr data-breaker=key>
                            <td>{r.service}</td>
                            <td>{r.breaker}</td>
                            <td><span class=class>{r.state.as_str()}</span></td>
                            <td class="num">{rate_display(r.failure_rate.map(normalise_rate))}</td>
                            <td class="num">{rate_display(r.slow_call_rate.map(normalise_rate))}</td>
                            <td class="num">{opt(r.calls)}</td>
                            <td class="num">{opt(r.failures)}</td>
                            <td class="num">{opt(r.not_permitted)}</td>
                            <td class="mono">{last}</td>
                        </tr>
                    }
                }).collect_view()}
                <Show when=move || empty>
                    <tr><td colspan="9" class="empty">"No breaker has reported yet."</td></tr>
                </Show>
            </tbody>
        </table>
        <Chart chart=b.chart />
        <h2>"Recent transitions"</h2>
        <Show when=move || no_transitions>
            <p class="empty">"No transitions in this window."</p>
        </Show>
        <ol class="ticker" data-testid="transitions">
            {b.transitions.into_iter().map(|t| {
                let (from_class, to_class) = (
                    format!("breaker-state {}", breaker_class(t.from_state)),
                    format!("breaker-state {}", breaker_class(t.to_state)),
                );
                view! {
                    <li>
                        <span class="mono">{time(t.at)}</span>
                        <span>{format!("{}/{}", t.service, t.breaker)}</span>
                        <span class=from_class>{t.from_state.as_str()}</span>
                        "→"
                        <span class=to_class>{t.to_state.as_str()}</span>
                    </li>
                }
            }).collect_view()}
        </ol>
    }
}

/// Rates arrive as fractions (0.6) or percentages (60.0); show both as a fraction.
pub fn normalise_rate(r: f64) -> f64 {
    if r > 1.0 {
        r / 100.0
    } else {
        r
    }
}
