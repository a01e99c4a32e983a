//! The overview (`/`): KPIs over a selectable window, charts drawn on the server (plotters
//! SVG), a live ticker and the ingest pipeline's health. Server-rendered in full; with
//! JavaScript, pushed order changes enter the ticker (an island, [`Ticker`], beside the
//! header's live badge). The numbers and charts are as of the page load.

use crate::console::{
    duration_display, rate_display, BatchLatency, Kpis, LogIncidentView, PartitionLag, Range,
    TickerItem,
};
use crate::ops::{LiveMessage, OrderRow};
use crate::push::{self, LiveBadgeIsland};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// A chart drawn on the server: safe SVG markup (see [`crate::charts`]) and its legend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartView {
    pub id: String,
    pub title: String,
    pub svg: String,
    /// (label, CSS class of the colour)
    pub legend: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OverviewView {
    pub range: Range,
    pub kpis: Kpis,
    pub charts: Vec<ChartView>,
    pub ticker: Vec<TickerItem>,
    pub lag: Vec<PartitionLag>,
    pub batch_latency: Option<BatchLatency>,
    pub quarantined: i64,
    pub log_incidents: Vec<LogIncidentView>,
}

#[server(input = GetUrl, output = crate::codec::Json)]
pub async fn load_overview(range: String) -> Result<OverviewView, ServerFnError> {
    use crate::charts::{Paint, TimeChart, YUnit};
    let console = crate::console::console_model()?;
    let range = Range::parse(&range);
    let d = console
        .overview(range)
        .await
        .map_err(crate::ops::model::failed("could not load the overview"))?;
    let paints = [Paint::Blue, Paint::Green, Paint::Red, Paint::Amber];
    let legend = |items: &[(&str, Paint)]| {
        items
            .iter()
            .map(|(l, p)| (l.to_string(), p.class().to_string()))
            .collect::<Vec<_>>()
    };
    let throughput = TimeChart {
        title: "Orders per bucket by outcome",
        from: d.from,
        to: d.to,
        lines: d.throughput.iter().zip(paints).collect(),
        area: None,
        marks: vec![],
        unit: YUnit::Count,
    };
    let durations = TimeChart {
        title: "Saga duration percentiles",
        from: d.from,
        to: d.to,
        lines: d
            .durations
            .iter()
            .zip([Paint::Blue, Paint::Violet])
            .collect(),
        area: None,
        marks: vec![],
        unit: YUnit::Millis,
    };
    let dlq = TimeChart {
        title: "Dead letters arriving",
        from: d.from,
        to: d.to,
        lines: vec![],
        area: Some((&d.dlq_inflow, Paint::Red)),
        marks: vec![],
        unit: YUnit::Count,
    };
    let entered = |class: &str| {
        let times = d
            .transitions
            .iter()
            .filter(|t| crate::console::breaker_class(t.to_state) == class)
            .map(|t| t.at);
        crate::console::counts(class, times, d.from, d.to, range.bucket_secs())
    };
    let by_state = [entered("open"), entered("half-open"), entered("closed")];
    let transitions = TimeChart {
        title: "Breaker transitions",
        from: d.from,
        to: d.to,
        lines: by_state
            .iter()
            .zip([Paint::Red, Paint::Amber, Paint::Green])
            .collect(),
        area: None,
        marks: vec![],
        unit: YUnit::Count,
    };
    let chart = |id: &str, c: &TimeChart, legend: Vec<(String, String)>| ChartView {
        id: id.into(),
        title: c.title.into(),
        svg: c.render(),
        legend,
    };
    let charts = vec![
        chart(
            "throughput",
            &throughput,
            legend(&[
                ("created", Paint::Blue),
                ("completed", Paint::Green),
                ("failed", Paint::Red),
                ("cancelled", Paint::Amber),
            ]),
        ),
        chart(
            "durations",
            &durations,
            legend(&[("p50", Paint::Blue), ("p95", Paint::Violet)]),
        ),
        chart("dlq", &dlq, legend(&[("dead letters", Paint::Red)])),
        chart("transitions", &transitions, transition_legend()),
    ];
    Ok(OverviewView {
        range,
        kpis: d.kpis,
        charts,
        ticker: d.ticker,
        lag: d.lag,
        batch_latency: d.batch_latency,
        quarantined: d.quarantined,
        log_incidents: d.log_incidents,
    })
}

/// Vertical marks for breaker transitions, coloured by the state entered.
#[cfg(feature = "ssr")]
pub fn transition_marks(
    transitions: &[crate::console::TransitionView],
) -> Vec<(chrono::DateTime<chrono::Utc>, crate::charts::Paint)> {
    use crate::charts::Paint;
    transitions
        .iter()
        .map(|t| {
            let paint = match crate::console::breaker_class(t.to_state) {
                "open" => Paint::Red,
                "half-open" => Paint::Amber,
                "closed" => Paint::Green,
                _ => Paint::Grey,
            };
            (t.at, paint)
        })
        .collect()
}

#[cfg(feature = "ssr")]
pub fn transition_legend() -> Vec<(String, String)> {
    use crate::charts::Paint;
    [
        ("→ open", Paint::Red),
        ("→ half-open", Paint::Amber),
        ("→ closed", Paint::Green),
    ]
    .iter()
    .map(|(l, p)| (l.to_string(), p.class().to_string()))
    .collect()
}

/// The window links: plain GET links, so they work without JavaScript.
#[component]
pub fn RangeLinks(base: &'static str, current: Range) -> impl IntoView {
    view! {
        <nav class="ranges" aria-label="Time range">
            {Range::ALL
                .into_iter()
                .map(|r| {
                    let current = (r == current).then_some("page");
                    view! {
                        <a href=format!("{base}?range={}", r.key()) aria-current=current data-range=r.key()>
                            {r.key()}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
    }
}

/// A chart with its caption and legend; the SVG was made on the server from numbers only.
#[component]
pub fn Chart(chart: ChartView) -> impl IntoView {
    view! {
        <figure class="chart card" data-chart=chart.id.clone()>
            <figcaption>
                <span>{chart.title.clone()}</span>
                <span class="legend">
                    {chart.legend.into_iter().map(|(label, class)| view! {
                        <span class="legend-item"><span class=format!("swatch {class}")></span>{label}</span>
                    }).collect_view()}
                </span>
            </figcaption>
            <div class="chart-body" inner_html=chart.svg></div>
        </figure>
    }
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let query = use_query_map();
    let range = Range::parse(&query.read_untracked().get("range").unwrap_or_default());
    let overview = Resource::new(move || range, |r| load_overview(r.key().to_string()));

    view! {
        <section class="page overview">
            <header class="page-head">
                <h1>"Overview"</h1>
                <LiveBadgeIsland />
                <RangeLinks base="/" current=range />
            </header>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(o) => view! { <OverviewBody o /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// The live ticker: orders pushed since the page loaded on top of the stored events it was
/// rendered with (newest first, at most a dozen pushed ones).
#[island]
fn Ticker(stored: Vec<TickerItem>) -> impl IntoView {
    let pushed = RwSignal::new(Vec::<OrderRow>::new());
    push::subscribe(move |msg| {
        if let LiveMessage::Order(row) = msg {
            pushed.update(|rows| {
                rows.insert(0, row);
                rows.truncate(12);
            });
        }
    });
    view! {
        <ol class="ticker" data-testid="ticker">
            {move || pushed.get().into_iter().map(|r| {
                let href = crate::ops::order_href(&r.order_id);
                view! {
                    <li class="pushed" data-order-id=r.order_id.clone()>
                        <span class="mono">{r.updated_at.format("%H:%M:%S").to_string()}</span>
                        <a class="mono" href=href>{r.order_id.clone()}</a>
                        <span class=format!("status status-{}", r.status)>{r.status.as_str()}</span>
                        <span class="step">{r.step.clone().unwrap_or_default()}</span>
                    </li>
                }
            }).collect_view()}
            {stored.into_iter().map(|e| {
                let href = crate::ops::order_href(&e.aggregate_id);
                view! {
                    <li>
                        <span class="mono">{e.occurred_at.format("%H:%M:%S").to_string()}</span>
                        <a class="mono" href=href>{e.aggregate_id}</a>
                        <code>{e.event_type}</code>
                    </li>
                }
            }).collect_view()}
        </ol>
    }
}

#[component]
fn Kpi(
    label: &'static str,
    value: String,
    #[prop(optional)] detail: String,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <div class="kpi" data-testid=testid>
            <span class="kpi-label">{label}</span>
            <span class="kpi-value">{value}</span>
            <span class="kpi-detail">{detail}</span>
        </div>
    }
}

/// A mark on the pipeline-health row of a topic (or one partition) with an open log
/// incident: the log changed under ingest there, and whether reading is paused.
fn incident_marks(
    incidents: &[LogIncidentView],
    topic: &str,
    partition: Option<i32>,
) -> Option<impl IntoView> {
    let here: Vec<&LogIncidentView> = incidents
        .iter()
        .filter(|i| i.topic == topic && partition.is_none_or(|p| p == i.partition))
        .collect();
    let paused = here.iter().any(|i| i.paused);
    (!here.is_empty()).then(|| {
        let label = if paused { "paused" } else { "log changed" };
        view! { <span class="badge warn" data-testid="lag-incident" title="see the log incidents above">{label}</span>" " }
    })
}

/// The pipeline's lag per topic: (topic, partitions, lag over them; unknown if any
/// partition's is), in topic order.
fn by_topic(lag: &[PartitionLag]) -> Vec<(String, usize, Option<i64>)> {
    let mut topics: std::collections::BTreeMap<&str, (usize, Option<i64>)> = Default::default();
    for l in lag {
        let (n, sum) = topics.entry(l.topic.as_str()).or_insert((0, Some(0)));
        *n += 1;
        *sum = sum.zip(l.lag()).map(|(a, b)| a + b);
    }
    topics
        .into_iter()
        .map(|(t, (n, sum))| (t.to_string(), n, sum))
        .collect()
}

#[component]
fn OverviewBody(o: OverviewView) -> impl IntoView {
    let k = o.kpis.clone();
    let window = o.range.label();
    let lag_total: i64 = o.lag.iter().filter_map(PartitionLag::lag).sum();
    let batch = o
        .batch_latency
        .as_ref()
        .map(|b| {
            format!(
                "p50 {} · p95 {} over {} batches",
                duration_display(Some(b.p50_ms)),
                duration_display(Some(b.p95_ms)),
                b.batches
            )
        })
        .unwrap_or_else(|| "no batch seen since this console started".into());
    let ticker = o.ticker.clone();
    let incidents = (!o.log_incidents.is_empty()).then(|| {
        let n = o.log_incidents.len();
        view! {
            <div class="incident-banner" role="alert" data-testid="log-incidents">
                <strong>{format!("The Kafka log changed under ingest on {n} partition(s): records may be missing.")}</strong>
                <ul>
                    {o.log_incidents.iter().map(|i| view! {
                        <li data-testid="log-incident">
                            <span class="mono">{i.detected_at.format("%Y-%m-%d %H:%M:%S").to_string()}</span>" "{i.describe()}
                            {i.paused.then_some(" — paused: nothing is read from it until an admin decides on the admin page.")}
                        </li>
                    }).collect_view()}
                </ul>
            </div>
        }
    });
    view! {
        {incidents}
        <div class="kpis" aria-label="Key figures">
            <Kpi label="Orders / min" value=format!("{:.1}", k.orders_per_min) detail=format!("last {window}") testid="kpi-orders-per-min" />
            <Kpi label="Completion rate" value=rate_display(k.completion_rate) detail="of finished sagas".to_string() testid="kpi-completion" />
            <Kpi label="Saga p50 / p95" value=format!("{} / {}", duration_display(k.saga_p50_ms), duration_display(k.saga_p95_ms)) detail=format!("{} sagas", k.sagas_measured) testid="kpi-saga" />
            <Kpi label="DLQ depth" value=k.dlq_depth.to_string() detail=format!("+{} in the window", k.dlq_inflow) testid="kpi-dlq" />
            <Kpi label="Open breakers" value=k.open_breakers.to_string() detail=format!("of {}", k.breakers) testid="kpi-breakers" />
        </div>
        <div class="charts">
            {o.charts.into_iter().map(|chart| view! { <Chart chart /> }).collect_view()}
        </div>
        <div class="two-col">
            <section class="card" aria-labelledby="ticker-h">
                <h2 id="ticker-h">"Live ticker"</h2>
                <Ticker stored=ticker />
            </section>
            <section class="card" aria-labelledby="pipeline-h" data-testid="pipeline">
                <h2 id="pipeline-h">"Pipeline health"</h2>
                <dl class="facts">
                    <dt>"Ingest lag"</dt><dd data-testid="lag-total">{format!("{lag_total} records")}</dd>
                    <dt>"Batch latency"</dt><dd>{batch}</dd>
                    <dt>"Quarantined"</dt>
                    <dd><a href="/quarantine" data-testid="quarantined">{format!("{} records", o.quarantined)}</a></dd>
                </dl>
                <table class="grid compact" data-testid="lag">
                    <thead><tr>
                        <th scope="col">"Topic"</th><th scope="col" class="num">"Partitions"</th>
                        <th scope="col" class="num">"Lag"</th>
                    </tr></thead>
                    <tbody>
                        {by_topic(&o.lag).into_iter().map(|(topic, partitions, lag)| view! {
                            <tr data-testid="lag-topic">
                                <td class="mono">{incident_marks(&o.log_incidents, &topic, None)}{topic}</td>
                                <td class="num">{partitions}</td>
                                <td class="num">{lag.map(|h| h.to_string()).unwrap_or_else(|| "?".into())}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                <details data-testid="lag-partitions">
                    <summary>{format!("{} partitions", o.lag.len())}</summary>
                    <table class="grid compact">
                        <thead><tr>
                            <th scope="col">"Topic"</th><th scope="col" class="num">"Partition"</th>
                            <th scope="col" class="num">"Stored position"</th><th scope="col" class="num">"High watermark"</th>
                            <th scope="col" class="num">"Lag"</th>
                        </tr></thead>
                        <tbody>
                            {o.lag.iter().map(|l| view! {
                                <tr>
                                    <td class="mono">{l.topic.clone()}</td>
                                    <td class="num">{incident_marks(&o.log_incidents, &l.topic, Some(l.partition))}{l.partition}</td>
                                    <td class="num">{l.next_offset}</td>
                                    <td class="num">{l.high_watermark.map(|h| h.to_string()).unwrap_or_else(|| "?".into())}</td>
                                    <td class="num">{l.lag().map(|h| h.to_string()).unwrap_or_else(|| "?".into())}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </details>
            </section>
        </div>
    }
}
