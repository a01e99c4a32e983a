//! Quarantined records: everything ingest could not understand, with the reason and a
//! preview of the bytes (always rendered as escaped text, never as HTML).

use crate::ops::QuarantinedView;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

#[server(input = GetUrl, output = crate::codec::Json)]
pub async fn load_quarantined() -> Result<Vec<QuarantinedView>, ServerFnError> {
    let ops = crate::ops::read_model()?;
    ops.quarantined(200)
        .await
        .map_err(crate::ops::model::failed("could not load quarantine"))
}

#[component]
pub fn QuarantinePage() -> impl IntoView {
    let rows = Resource::new(|| (), |_| load_quarantined());
    view! {
        <section class="page">
            <header class="page-head"><h1>"Quarantine"</h1></header>
            <p class="hint">"Records ingest could not read. Each is kept byte for byte with the reason; ingest carried on."</p>
            <table class="grid" data-testid="quarantine">
                <thead><tr>
                    <th scope="col">"When"</th><th scope="col">"Position"</th><th scope="col">"Reason"</th>
                    <th scope="col" class="num">"Bytes"</th><th scope="col">"Preview"</th>
                </tr></thead>
                <Suspense fallback=|| view! { <tbody><tr><td colspan="5">"Loading…"</td></tr></tbody> }>
                    {move || Suspend::new(async move {
                        match rows.await {
                            Ok(rows) if rows.is_empty() => view! {
                                <tbody><tr><td colspan="5" class="empty">"Nothing quarantined."</td></tr></tbody>
                            }.into_any(),
                            Ok(rows) => view! {
                                <tbody>
                                    {rows.into_iter().map(|q| view! {
                                        <tr>
                                            <td class="mono">{q.quarantined_at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                                            <td class="mono">{format!("{}/{}@{}", q.topic, q.partition, q.offset)}</td>
                                            <td>{q.reason}</td>
                                            <td class="num">{q.size}</td>
                                            <td class="mono preview">{q.preview}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            }.into_any(),
                            Err(e) => view! {
                                <tbody><tr><td colspan="5" class="error">{e.to_string()}</td></tr></tbody>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </table>
        </section>
    }
}
