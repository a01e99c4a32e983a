//! One order: its status, the saga timeline (execute and compensate steps on one
//! timeline, with the time each took), every stored event with its position and
//! correlation, and its dead letters.

use crate::api::{OrderDetail, SagaStepView};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use leptos_router::hooks::use_params_map;

#[server(input = GetUrl)]
pub async fn load_order_detail(order_id: String) -> Result<Option<OrderDetail>, ServerFnError> {
    let ops = crate::api::read_model()?;
    if order_id.len() > 200 {
        return Err(ServerFnError::new("order id too long"));
    }
    ops.order_detail(&order_id)
        .await
        .map_err(|e| ServerFnError::new(format!("could not load the order: {e}")))
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
    let detail = Resource::new(id, load_order_detail);
    view! {
        <section class="page">
            <p class="crumbs"><a href="/orders">"Orders"</a>" / "<span class="mono">{id}</span></p>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(Some(d)) => view! { <Detail d /> }.into_any(),
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
    view! {
        <header class="page-head">
            <h1 class="mono">{o.order_id.clone()}</h1>
            <span class=status_class data-testid="order-status">{o.status.clone()}</span>
        </header>
        <dl class="facts">
            <dt>"Customer"</dt><dd>{o.customer_id.clone().unwrap_or_default()}</dd>
            <dt>"Total"</dt><dd>{total}</dd>
            <dt>"Items"</dt><dd>{o.item_count.map(|n| n.to_string()).unwrap_or_default()}</dd>
            <dt>"Current step"</dt>
            <dd>{d.current_step.clone().unwrap_or_default()}" "{d.step_status.clone().unwrap_or_default()}</dd>
            <dt>"Failure"</dt><dd class="error">{o.failure_reason.clone().unwrap_or_default()}</dd>
        </dl>

        <h2>"Saga timeline"</h2>
        <Show when=move || no_steps>
            <p class="empty">"No saga steps yet."</p>
        </Show>
        <ol class="timeline" data-testid="timeline">
            {d.steps.into_iter().zip(gaps).map(|(s, gap)| {
                let class = format!("tl-step {} {}", s.action, s.status);
                view! {
                    <li class=class>
                        <span class="mono">{s.at.format("%H:%M:%S%.3f").to_string()}</span>
                        <span class="gap">{gap.map(|g| format!("+{g} ms")).unwrap_or_default()}</span>
                        <strong>{s.step}</strong>
                        <span class="badge">{s.action}</span>
                        <span class="badge">{s.status}</span>
                        <span class="error">{s.error.unwrap_or_default()}</span>
                    </li>
                }
            }).collect_view()}
        </ol>

        <h2>"Events"</h2>
        <table class="grid" data-testid="events">
            <thead><tr>
                <th scope="col">"Time"</th><th scope="col">"Type"</th><th scope="col" class="num">"Version"</th>
                <th scope="col">"Position"</th><th scope="col">"Source"</th><th scope="col">"Correlation"</th>
                <th scope="col">"Causation"</th>
            </tr></thead>
            <tbody>
                {d.events.into_iter().map(|e| view! {
                    <tr>
                        <td class="mono">{e.occurred_at.format("%H:%M:%S%.3f").to_string()}</td>
                        <td>{e.event_type}</td>
                        <td class="num">{e.version.map(|v| v.to_string()).unwrap_or_default()}</td>
                        <td class="mono">{format!("{}/{}@{}", e.topic, e.partition, e.offset)}</td>
                        <td>{e.source.unwrap_or_default()}</td>
                        <td class="mono">{e.correlation_id.unwrap_or_default()}</td>
                        <td class="mono">{e.causation_id.unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
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
                                <td>{x.status}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
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
