//! The orders list: server-rendered from the read model, then kept current by pushed
//! updates (newest first; a pushed order replaces its older row in place).

use crate::api::{LiveMessage, OrderRow};
use crate::live::{self, LiveState};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

/// Orders changed most recently, newest first.
#[server(input = GetUrl)]
pub async fn recent_orders(limit: i64) -> Result<Vec<OrderRow>, ServerFnError> {
    let ops = crate::api::read_model()?;
    let limit = limit.clamp(1, crate::api::MAX_PAGE);
    ops.recent_orders(limit)
        .await
        .map_err(|e| ServerFnError::new(format!("could not load orders: {e}")))
}

/// Rows shown: pushed rows first (newest push on top), then server rows not superseded.
pub fn merge(pushed: &[OrderRow], loaded: &[OrderRow]) -> Vec<OrderRow> {
    let mut out: Vec<OrderRow> = Vec::with_capacity(pushed.len() + loaded.len());
    for row in pushed.iter().chain(loaded) {
        if !out.iter().any(|r| r.order_id == row.order_id) {
            out.push(row.clone());
        }
    }
    out
}

#[component]
pub fn OrdersPage() -> impl IntoView {
    let loaded = Resource::new(|| (), |_| recent_orders(100));
    let pushed = RwSignal::new(Vec::<OrderRow>::new());
    let paused = RwSignal::new(false);
    let state = RwSignal::new(LiveState::Static);

    Effect::new(move |_| {
        live::subscribe(state, move |msg| match msg {
            LiveMessage::Order(row) if !paused.get_untracked() => pushed.update(|rows| {
                rows.retain(|r| r.order_id != row.order_id);
                rows.insert(0, row);
            }),
            LiveMessage::Order(_) => {}
        });
    });

    view! {
        <section class="page">
            <header class="page-head">
                <h1>"Orders"</h1>
                <span class=move || format!("live-badge {}", state.get().label()) data-testid="live-state">
                    {move || state.get().label()}
                </span>
                <button
                    class="btn"
                    data-testid="live-toggle"
                    on:click=move |_| paused.update(|p| *p = !*p)
                >
                    {move || if paused.get() { "Resume live updates" } else { "Pause live updates" }}
                </button>
            </header>
            <table class="grid" data-testid="orders">
                <thead>
                    <tr>
                        <th scope="col">"Order"</th>
                        <th scope="col">"Customer"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Saga step"</th>
                        <th scope="col" class="num">"Items"</th>
                        <th scope="col" class="num">"Total"</th>
                        <th scope="col">"Updated"</th>
                    </tr>
                </thead>
                <Transition fallback=|| view! { <tbody><tr><td colspan="7">"Loading…"</td></tr></tbody> }>
                    {move || {
                        let pushed = pushed.get();
                        Suspend::new(async move {
                            match loaded.await {
                                Ok(rows) => {
                                    let rows = merge(&pushed, &rows);
                                    let empty = rows.is_empty();
                                    view! {
                                        <tbody>
                                            {rows.into_iter().map(|o| view! { <OrderLine order=o /> }).collect_view()}
                                            <Show when=move || empty>
                                                <tr><td colspan="7" class="empty">"No orders yet."</td></tr>
                                            </Show>
                                        </tbody>
                                    }.into_any()
                                }
                                Err(e) => view! {
                                    <tbody><tr><td colspan="7" class="error">{e.to_string()}</td></tr></tbody>
                                }.into_any(),
                            }
                        })
                    }}
                </Transition>
            </table>
        </section>
    }
}

#[component]
fn OrderLine(order: OrderRow) -> impl IntoView {
    let total = order.total_display();
    let updated = order.updated_at.format("%Y-%m-%d %H:%M:%S").to_string();
    let status_class = format!("status status-{}", order.status);
    let id = order.order_id;
    let id_attr = id.clone();
    let href = crate::api::order_href(&id);
    view! {
        <tr data-order-id=id_attr>
            <td class="mono"><a href=href>{id}</a></td>
            <td>{order.customer_id.unwrap_or_default()}</td>
            <td><span class=status_class>{order.status}</span></td>
            <td class="step">{order.step.unwrap_or_default()}</td>
            <td class="num">{order.item_count.map(|n| n.to_string()).unwrap_or_default()}</td>
            <td class="num">{total}</td>
            <td class="mono">{updated}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn row(id: &str, status: &str) -> OrderRow {
        OrderRow {
            order_id: id.into(),
            customer_id: None,
            status: status.into(),
            total_cents: None,
            currency: None,
            item_count: None,
            failure_reason: None,
            created_at: None,
            updated_at: DateTime::<Utc>::from_timestamp(0, 0).unwrap(),
            step: None,
        }
    }

    #[test]
    fn pushed_rows_come_first_and_supersede_loaded_ones() {
        let pushed = vec![row("B", "completed"), row("C", "created")];
        let loaded = vec![row("A", "created"), row("B", "created")];
        let merged = merge(&pushed, &loaded);
        let ids: Vec<_> = merged
            .iter()
            .map(|r| (r.order_id.as_str(), r.status.as_str()))
            .collect();
        assert_eq!(
            ids,
            vec![("B", "completed"), ("C", "created"), ("A", "created")]
        );
    }
}
