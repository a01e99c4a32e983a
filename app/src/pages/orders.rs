//! The orders list: server-rendered from the read model, then kept current by pushed
//! updates (newest first; a pushed order replaces its older row in place).
//!
//! The page (query, filters, the first load) runs on the server; the list with its live
//! badge and pause button is an island ([`LiveOrders`]) that gets the loaded page as props.
//! Operators act on the orders shown in batch ([`super::saga_batches`]).

use crate::console::{input_time, OrderFilter, OrdersPageData, ORDER_FILTER_KEYS, STEP_CHOICES};
use crate::ops::{LiveMessage, OrderRow};
use crate::pages::saga_batches::{BatchForm, BatchPreviewPanel, BatchesPanel};
use crate::push::{self, LiveBadge};
use crate::saga::server_fns::load_saga_batches;
use crate::saga::SagaAction;
use crate::states::OrderStatus;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use leptos_router::hooks::use_query_map;

/// Orders changed most recently, newest first.
#[server(input = GetUrl, output = crate::codec::Json)]
pub async fn recent_orders(limit: i64) -> Result<Vec<OrderRow>, ServerFnError> {
    let ops = crate::ops::read_model()?;
    let limit = limit.clamp(1, crate::ops::MAX_PAGE);
    ops.recent_orders(limit)
        .await
        .map_err(crate::ops::model::failed("could not load orders"))
}

/// Rows in one page of the list.
pub const PAGE: i64 = 50;

/// One page of orders matching the filters (keyset paging: `after_t`/`after_id` name the
/// last row of the previous page). Every value reaches SQL as a bound parameter.
#[server(input = GetUrl, output = crate::codec::Json)]
#[allow(clippy::too_many_arguments)]
pub async fn search_orders(
    status: Option<String>,
    step: Option<String>,
    q: Option<String>,
    from: Option<String>,
    to: Option<String>,
    after_t: Option<String>,
    after_id: Option<String>,
) -> Result<OrdersPageData, ServerFnError> {
    let console = crate::console::console_model()?;
    let pairs = [
        ("status", status),
        ("step", step),
        ("q", q),
        ("from", from),
        ("to", to),
        ("after_t", after_t),
        ("after_id", after_id),
    ];
    let filter = OrderFilter::from_pairs(
        |k| pairs.iter().find(|p| p.0 == k).and_then(|p| p.1.as_deref()),
        PAGE,
    );
    console
        .search_orders(&filter)
        .await
        .map_err(crate::ops::model::failed("could not load orders"))
}

/// Rows shown: pushed orders already in view replace their row in place; pushed orders
/// not in view go on top when the view is the first page and they match its filters.
pub fn apply_pushed(
    filter: &OrderFilter,
    pushed: &[OrderRow],
    loaded: &[OrderRow],
) -> Vec<OrderRow> {
    let mut out: Vec<OrderRow> = pushed
        .iter()
        .filter(|p| filter.admits(p) && !loaded.iter().any(|l| l.order_id == p.order_id))
        .cloned()
        .collect();
    out.extend(loaded.iter().map(|l| {
        pushed
            .iter()
            .find(|p| p.order_id == l.order_id)
            .unwrap_or(l)
            .clone()
    }));
    out
}

fn current_filter(q: &leptos_router::params::ParamsMap) -> OrderFilter {
    OrderFilter::from_pairs(|k| q.get_str(k), PAGE)
}

#[component]
pub fn OrdersPage() -> impl IntoView {
    let query = use_query_map();
    let filter = current_filter(&query.read_untracked());
    let args = {
        let q = query.read_untracked();
        ORDER_FILTER_KEYS.map(|k| q.get(k))
    };
    let (act, highlight) = {
        let q = query.read_untracked();
        (
            q.get("act").as_deref().and_then(SagaAction::parse),
            q.get("batch"),
        )
    };
    let loaded = Resource::new(
        move || args.clone(),
        |[status, step, q, from, to, after_t, after_id]| {
            search_orders(status, step, q, from, to, after_t, after_id)
        },
    );
    let batches = Resource::new(|| (), |_| load_saga_batches());
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let (filter, highlight) = (filter.clone(), highlight.clone());
                Suspend::new(async move {
                    let (page, error) = crate::ops::loaded_or_error(loaded.await);
                    let batches = batches.await.unwrap_or_default();
                    view! {
                        <LiveOrders filter=filter.clone() page error>
                            <FilterForm filter=filter.clone() />
                            <BatchForm filter=filter.clone() />
                            {act.map(|action| view! { <BatchPreviewPanel filter=filter.clone() action /> })}
                            <BatchesPanel batches highlight session=crate::session::current() />
                        </LiveOrders>
                    }
                })
            }}
        </Suspense>
    }
}

/// The list as loaded, with pushed orders merged in, its live badge and the pause button.
/// `children`: the filter form (server-rendered).
#[island]
fn LiveOrders(
    filter: OrderFilter,
    page: OrdersPageData,
    error: Option<String>,
    children: Children,
) -> impl IntoView {
    let pushed = RwSignal::new(Vec::<OrderRow>::new());
    let paused = RwSignal::new(false);
    push::subscribe(move |msg| match msg {
        LiveMessage::Order(row) if !paused.get_untracked() => pushed.update(|rows| {
            rows.retain(|r| r.order_id != row.order_id);
            rows.insert(0, row);
            rows.truncate(200);
        }),
        _ => {}
    });
    let next = page.next.as_ref().map(|c| filter.next_href(c));
    let (filter, loaded) = (StoredValue::new(filter), StoredValue::new(page.rows));
    let error = StoredValue::new(error);
    let next = StoredValue::new(next);

    view! {
        <section class="page">
            <header class="page-head">
                <h1>"Orders"</h1>
                <LiveBadge />
                <button
                    class="btn"
                    data-testid="live-toggle"
                    on:click=move |_| paused.update(|p| *p = !*p)
                >
                    {move || if paused.get() { "Resume live updates" } else { "Pause live updates" }}
                </button>
            </header>
            {children()}
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
                {move || match error.get_value() {
                    Some(e) => view! {
                        <tbody><tr><td colspan="7" class="error">{e}</td></tr></tbody>
                    }.into_any(),
                    None => {
                        let rows = loaded.with_value(|l| filter.with_value(|f| apply_pushed(f, &pushed.get(), l)));
                        let empty = rows.is_empty();
                        view! {
                            <tbody>
                                {rows.into_iter().map(|o| view! { <OrderLine order=o /> }).collect_view()}
                                {empty.then(|| view! {
                                    <tr><td colspan="7" class="empty">"No orders match."</td></tr>
                                })}
                                {next.get_value().map(|href| view! {
                                    <tr class="pager"><td colspan="7">
                                        <a class="btn" href=href data-testid="next-page">"Older orders →"</a>
                                    </td></tr>
                                })}
                            </tbody>
                        }.into_any()
                    }
                }}
            </table>
        </section>
    }
}

/// The filters as a plain GET form (works without JavaScript).
#[component]
fn FilterForm(filter: OrderFilter) -> impl IntoView {
    let choice = |choices: &[&'static str], current: Option<String>| {
        choices
            .iter()
            .map(|c| {
                let selected = current.as_deref() == Some(*c);
                view! { <option value=*c selected=selected>{*c}</option> }
            })
            .collect_view()
    };
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(input_time).unwrap_or_default();
    view! {
        <form method="get" action="/orders" class="form-row filters" role="search" data-testid="order-filters">
            <label>"Status"
                <select name="status">
                    <option value="">"any"</option>
                    {choice(
                        &OrderStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                        filter.status.clone(),
                    )}
                </select>
            </label>
            <label>"Saga step"
                <select name="step">
                    <option value="">"any"</option>
                    {choice(&STEP_CHOICES, filter.step.clone())}
                </select>
            </label>
            <label>"Updated from (UTC)" <input type="datetime-local" name="from" value=time(filter.from) /></label>
            <label>"to" <input type="datetime-local" name="to" value=time(filter.to) /></label>
            <label>"Search"
                <input type="search" name="q" value=filter.q.clone().unwrap_or_default()
                    placeholder="order id, customer or correlation id" maxlength="200" />
            </label>
            <button class="btn primary" type="submit">"Filter"</button>
            <a class="btn" href="/orders">"Clear"</a>
        </form>
    }
}

#[component]
fn OrderLine(order: OrderRow) -> impl IntoView {
    let total = order.total_display();
    let updated = order.updated_at.format("%Y-%m-%d %H:%M:%S").to_string();
    let status_class = format!("status status-{}", order.status);
    let id = order.order_id;
    let id_attr = id.clone();
    let href = crate::ops::order_href(&id);
    view! {
        <tr data-order-id=id_attr>
            <td class="mono"><a href=href>{id}</a></td>
            <td>{order.customer_id.unwrap_or_default()}</td>
            <td><span class=status_class>{order.status.as_str()}</span></td>
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

    fn row(id: &str, status: OrderStatus) -> OrderRow {
        OrderRow {
            order_id: id.into(),
            customer_id: None,
            status,
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
    fn pushed_rows_replace_rows_in_view_and_new_ones_join_the_first_page() {
        use OrderStatus::{Completed, Created};
        let pushed = vec![row("B", Completed), row("C", Created)];
        let loaded = vec![row("A", Created), row("B", Created)];
        let ids = |rows: Vec<OrderRow>| -> Vec<(String, OrderStatus)> {
            rows.into_iter().map(|r| (r.order_id, r.status)).collect()
        };
        let all = OrderFilter::default();
        assert_eq!(
            ids(apply_pushed(&all, &pushed, &loaded)),
            vec![
                ("C".into(), Created),
                ("A".into(), Created),
                ("B".into(), Completed)
            ]
        );
        // Filtered to completed: C (created) does not join; B still updates in place.
        let completed = OrderFilter {
            status: Some("completed".into()),
            ..OrderFilter::default()
        };
        assert_eq!(
            ids(apply_pushed(&completed, &pushed, &loaded)),
            vec![("A".into(), Created), ("B".into(), Completed)]
        );
    }
}
