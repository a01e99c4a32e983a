//! Saga actions in batch, on the orders list (issue 23): for operators, one action over the
//! orders the list's filter matches — previewed first (how many match, how many can be
//! acted on, what they wait on), then confirmed with a reason and a throttle — and the
//! batches with their progress (sent, answered, cancelled), polled while one runs, with a
//! Cancel button.
//!
//! The preview is a GET of the same page (`?act=<action>` beside the filter), so it works
//! without JavaScript; the confirm form is an island ([`ActionIsland`]) whose server
//! function redirects to `?batch=<id>`. The server refuses a confirm whose count is not
//! the preview's (the set changed in between).

use crate::auth::SessionView;
use crate::console::OrderFilter;
use crate::forms::{ActionIsland, FormAction};
use crate::saga::server_fns::{load_saga_batches, preview_saga_batch, CancelSagaBatch};
use crate::saga::{BatchFilter, BatchJobView, SagaAction};
use crate::session::{self, CsrfField, IfRole};
use leptos::prelude::*;

/// The filter's fields as hidden inputs (the batch acts on what the list shows), named as
/// the list's query string names them (the GET form that previews) or as a server function's argument
/// (`filter[status]`).
fn hidden_filter(filter: &OrderFilter, nested: bool) -> impl IntoView {
    filter
        .query()
        .into_iter()
        .map(|(k, v)| {
            let name = if nested {
                format!("filter[{k}]")
            } else {
                k.to_string()
            };
            view! { <input type="hidden" name=name value=v /> }
        })
        .collect_view()
}

/// "Act on these orders": pick an action, see what it would do.
#[component]
pub fn BatchForm(filter: OrderFilter) -> impl IntoView {
    view! {
        <IfRole role=crate::auth::Role::Operator>
            <form method="get" action="/orders" class="form-row batch-form" data-testid="batch-form">
                {hidden_filter(&filter, false)}
                <label>"Act on the orders shown"
                    <select name="act" data-testid="batch-action">
                        {SagaAction::ALL.into_iter().map(|a| view! {
                            <option value=a.as_str() title=a.explain()>{a.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <button class="btn" type="submit" data-testid="batch-preview">"Preview"</button>
            </form>
        </IfRole>
    }
}

/// What a batch of `action` over `filter` would do, and the confirm form.
#[component]
pub fn BatchPreviewPanel(filter: OrderFilter, action: SagaAction) -> impl IntoView {
    let batch_filter = BatchFilter::of(&filter);
    let preview = Resource::new(
        || (),
        move |_| preview_saga_batch(action.as_str().to_string(), Some(batch_filter.clone())),
    );
    let back = if filter.query().is_empty() {
        "/orders".to_string()
    } else {
        let q: Vec<String> = filter
            .query()
            .into_iter()
            .map(|(k, v)| format!("{k}={}", crate::ops::percent_encode(&v)))
            .collect();
        format!("/orders?{}", q.join("&"))
    };
    let filter = StoredValue::new(filter);
    let back = StoredValue::new(back);
    view! {
        <section class="preview" data-testid="batch-preview-panel" aria-label="Batch preview">
            <h2>{format!("{} — every order shown", action.label())}</h2>
            <p class="note">{action.explain()}</p>
            <Suspense fallback=|| view! { <p>"Working out what it would act on…"</p> }>
                {move || Suspend::new(async move {
                    let p = match preview.await {
                        Ok(p) => p,
                        Err(e) => return view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    };
                    let nothing = p.actionable == 0;
                    view! {
                        <p data-testid="batch-summary">
                            <strong>{p.actionable}</strong>" of "{p.matched}" matching orders can be acted on"
                            {p.capped.then(|| format!(" (only the newest {} are taken)", crate::saga::MAX_BATCH))}
                            "; the others have ended."
                        </p>
                        <ul class="waiting-on">
                            {p.waiting_on.into_iter().map(|(what, n)| view! { <li>{format!("{n} waiting on {what}")}</li> }).collect_view()}
                        </ul>
                        <ActionIsland action=FormAction::StartSagaBatch class="confirm" testid="batch-confirm-form">
                            <CsrfField />
                            {hidden_filter(&filter.get_value(), true)}
                            <input type="hidden" name="action" value=action.as_str() />
                            <input type="hidden" name="expect" value=p.actionable.to_string() />
                            <label>"Reason"<input name="reason" required=true maxlength="1000" data-testid="batch-reason"
                                placeholder="why (kept with every command and in the audit log)" /></label>
                            <label>"Throttle (commands/s, 0 = unthrottled)"
                                <input type="number" name="throttle" min="0" max="100000" value="50" data-testid="batch-throttle" />
                            </label>
                            <button class="btn primary" type="submit" disabled=nothing data-testid="batch-confirm">
                                {format!("Send to {} orders", p.actionable)}
                            </button>
                            <a class="btn link" href=back.get_value()>"Back"</a>
                        </ActionIsland>
                    }.into_any()
                })}
            </Suspense>
        </section>
    }
}

/// The recent batches with their progress; polled while one runs.
#[island]
pub fn BatchesPanel(
    batches: Vec<BatchJobView>,
    highlight: Option<String>,
    session: Option<SessionView>,
) -> impl IntoView {
    session::provide(session);
    let cancel = ServerAction::<CancelSagaBatch>::new();
    let shown = RwSignal::new(batches);
    let error = RwSignal::new(None::<String>);
    let reload = move || {
        leptos::task::spawn_local(async move {
            match load_saga_batches().await {
                Ok(b) => {
                    shown.set(b);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    Effect::new(move |_| {
        if cancel.version().get() > 0 {
            reload();
        }
    });
    Effect::new(move |_| {
        let poll = move || {
            if shown.get_untracked().iter().any(|b| b.status == "running") {
                reload();
            }
        };
        if let Ok(handle) = set_interval_with_handle(poll, std::time::Duration::from_millis(1000)) {
            on_cleanup(move || handle.clear());
        }
    });
    let highlight = StoredValue::new(highlight);
    view! {
        <section class="jobs" aria-label="Saga command batches" data-testid="batches">
            {move || {
                let batches = shown.get();
                (!batches.is_empty()).then(|| view! {
                    <h2>"Saga command batches"</h2>
                    <ul class="job-list">
                        {batches.into_iter().map(|b| {
                            let highlighted = highlight.with_value(|h| h.as_deref() == Some(b.id.as_str()));
                            view! { <BatchLine b highlighted cancel /> }
                        }).collect_view()}
                    </ul>
                })
            }}
            {move || error.get().map(|e| view! { <p class="error">{e}</p> })}
            {move || cancel.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
        </section>
    }
}

#[component]
fn BatchLine(
    b: BatchJobView,
    highlighted: bool,
    cancel: ServerAction<CancelSagaBatch>,
) -> impl IntoView {
    let class = format!(
        "job job-{}{}",
        b.status,
        if highlighted { " highlighted" } else { "" }
    );
    let running = b.status == "running";
    let done = b.sent + b.cancelled;
    let label = format!("{}: {done} of {}", b.action.label(), b.total);
    let id = StoredValue::new(b.id.clone());
    view! {
        <li class=class data-batch-id=b.id.clone() data-status=b.status.clone()>
            <div class="job-top">
                <strong>{b.action.label()}</strong>
                <span class=format!("status job-status-{}", b.status)>{b.status.clone()}</span>
                <span>{b.filter.clone()}" · by "{b.created_by.clone()}": "{b.reason.clone()}</span>
                <span class="muted">{b.created_at.format("%H:%M:%S").to_string()}</span>
            </div>
            <progress max=b.total.max(1).to_string() value=done.to_string() aria-label=label></progress>
            <div class="job-counts" data-testid="batch-counts">
                <span><strong>{b.sent}</strong>" sent"</span>
                <span>{b.applied}" applied"</span>
                {(b.rejected > 0).then(|| view! { <span>{b.rejected}" rejected"</span> })}
                {(b.cancelled > 0).then(|| view! { <span>{b.cancelled}" cancelled"</span> })}
                {(b.queued > 0).then(|| view! { <span>{b.queued}" queued"</span> })}
                <span>" of "{b.total}</span>
                {(b.throttle > 0).then(|| view! { <span class="muted">{format!("throttle {}/s", b.throttle)}</span> })}
                {b.note.clone().map(|n| view! { <span class="waiting">{n}</span> })}
            </div>
            {running.then(|| view! {
                <IfRole role=crate::auth::Role::Operator>
                    <ActionForm action=cancel attr:class="inline">
                        <CsrfField />
                        <input type="hidden" name="batch" value=id.get_value() />
                        <button class="btn small danger" type="submit" data-testid="cancel-batch">"Cancel"</button>
                    </ActionForm>
                </IfRole>
            })}
        </li>
    }
}
