//! One dead letter: where it sits and where it came from, the exception, the payload
//! decoded (pretty JSON, text or hex — always as text, so a payload holding `<script>` or
//! HTML stays inert), every header with its meaning in the writer's dialect, the replay
//! history with what happened next (an edited copy with its changes), and the Replay,
//! Edit-and-resend and Discard (with reason) actions.
//!
//! Rendered on the server only; the two action forms are islands
//! ([`crate::forms::ActionIsland`]) that show the page again after they succeeded.

use crate::dlq::server_fns::*;
use crate::dlq::*;
use crate::forms::{ActionIsland, FlashMessage, FormAction};
use crate::session::{CsrfField, IfRole};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn DeadLetterDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = params.with_untracked(|p| p.get("id").and_then(|s| s.parse::<i64>().ok()));
    let detail = Resource::new(
        move || id,
        |id| async move {
            match id {
                Some(id) => load_dead_letter_detail(id).await,
                None => Ok(None),
            }
        },
    );
    view! {
        <section class="page dlq">
            <p class="crumbs"><a href="/dead-letters">"Dead letters"</a>" / "
                <span class="mono">{id.map(|i| format!("#{i}")).unwrap_or_default()}</span></p>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(Some(d)) => view! { <Detail d /> }.into_any(),
                        Ok(None) => view! { <p class="empty">"No such dead letter."</p> }.into_any(),
                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Detail(d: DeadLetterDetail) -> impl IntoView {
    let it = d.item.clone();
    let status_class = format!("status dl-{}", it.status);
    let replayable = it.status.replayable();
    let discardable = it.status.discardable();
    let pos = |p: Option<i32>, o: Option<i64>| match (p, o) {
        (Some(p), Some(o)) => format!("partition {p}, offset {o}"),
        (None, Some(o)) => format!("offset {o}"),
        (Some(p), None) => format!("partition {p}"),
        _ => "unknown".to_string(),
    };
    let id = it.id;
    view! {
        <header class="page-head">
            <h1>"Dead letter "<span class="mono">{format!("#{}", it.id)}</span></h1>
            <span class=status_class data-testid="dl-status">{it.status.as_str().replace('_', " ")}</span>
        </header>
        <dl class="facts">
            <dt>"Sits on"</dt><dd class="mono">{format!("{}/{}@{}", it.dlq_topic, d.partition, d.offset)}</dd>
            <dt>"Original topic"</dt><dd>{it.original_topic.clone()}
                {d.origin_note.clone().map(|n| view! { <div class="muted" data-testid="origin-note">{n}</div> })}</dd>
            <dt>"Original position"</dt><dd>{pos(d.original_partition, d.original_offset)}</dd>
            <dt>"Dialect"</dt><dd>{it.dialect.clone()}</dd>
            <dt>"Failed at"</dt><dd class="mono">{it.failed_at.format("%Y-%m-%d %H:%M:%S%.3f").to_string()}</dd>
            <dt>"Exception"</dt>
            <dd><span class="mono">{d.exception_type.clone().unwrap_or_default()}</span>" "
                <span class="error">{d.exception_message.clone().unwrap_or_default()}</span></dd>
            <dt>"Attempts"</dt><dd>{d.attempts.map(|a| a.to_string()).unwrap_or_default()}</dd>
            <dt>"Key"</dt><dd class="mono">{it.key.clone().unwrap_or_default()}</dd>
            <dt>"Order"</dt>
            <dd>{it.order_id.clone().map(|o| {
                let href = crate::ops::order_href(&o);
                view! { <a href=href data-testid="order-link">{o}</a> }
            })}</dd>
            <dt>"Replayed"</dt><dd>{format!("{} time(s) before", it.replay_count)}
                {d.replayed_from.map(|f| view! { " — replay of "<a href=dead_letter_href(f)>{format!("#{f}")}</a> })}</dd>
            {it.parse_note.clone().map(|n| view! { <dt>"Unreadable"</dt><dd class="error">{n}</dd> })}
            {d.discarded.clone().map(|x| view! {
                <dt>"Discarded"</dt>
                <dd>{format!("by {} at {}: ", x.by, x.at.format("%Y-%m-%d %H:%M:%S"))}<q>{x.reason}</q></dd>
            })}
        </dl>

        <div class="detail-actions">
            {replayable.then(|| view! {
                <IfRole role=crate::auth::Role::Operator>
                <ActionIsland action=FormAction::ReplayOne class="inline" testid="replay-form">
                    <CsrfField />
                    <input type="hidden" name="id" value=id.to_string() />
                    <button class="btn primary" type="submit" data-testid="replay-one">"Replay now"</button>
                </ActionIsland>
                </IfRole>
            })}
            {discardable.then(|| view! {
                <IfRole role=crate::auth::Role::Operator>
                <ActionIsland action=FormAction::Discard class="inline discard" testid="discard-form">
                    <CsrfField />
                    <input type="hidden" name="ids[]" value=id.to_string() />
                    <label>"Reason"<input name="reason" required=true maxlength="1000" placeholder="why it will never be replayed" /></label>
                    <button class="btn danger" type="submit" data-testid="discard">"Discard"</button>
                </ActionIsland>
                </IfRole>
            })}
            <FlashMessage of=FormAction::ReplayOne testid="replay-result" />
            <FlashMessage of=FormAction::Discard />
        </div>
        {replayable.then(|| {
            // Leptos writes a textarea's children unescaped (as it does `<script>`'s), so a
            // payload holding `</textarea><script>…` would leave the element: escaped here,
            // and the browser decodes the references back (RCDATA), so the text is exact.
            let start = crate::ops::escape_html(d.payload.text());
            let topic = it.original_topic.clone();
            view! {
            <IfRole role=crate::auth::Role::Operator>
            <details class="edit-resend" data-testid="edit-resend">
                <summary>"Edit and resend"</summary>
                <p class="note">"Fix the payload or headers, or send it to another topic. Fields still showing **** keep their original values. Review the changes, then tick Send and submit again: the edited copy is sent as this dead letter's replay and followed like one."</p>
                <EditIsland>
                    <CsrfField />
                    <input type="hidden" name="id" value=id.to_string() />
                    <label class="wide">"Payload"
                        <textarea name="payload" rows="14" spellcheck="false" class="mono" data-testid="edit-payload">{start}</textarea>
                    </label>
                    <label class="wide">"Set headers (name: value, a line each)"
                        <textarea name="set_headers" rows="3" class="mono" data-testid="edit-set-headers"></textarea>
                    </label>
                    <label>"Remove headers (names)"<input name="remove_headers" data-testid="edit-remove-headers" /></label>
                    <label>"Topic"<input name="topic" value=topic data-testid="edit-topic" /></label>
                    <label class="check"><input type="checkbox" name="send" value="1" data-testid="edit-send" />"Send the edited copy"</label>
                    <button class="btn primary" type="submit" data-testid="edit-submit">"Review / send"</button>
                </EditIsland>
            </details>
            </IfRole>
        }})}
        <IfRole role=crate::auth::Role::Admin>
            <details class="reveal">
                <summary>"Reveal the original (admin, audited)"</summary>
                <p class="note">"Values are masked for every viewer. An admin may see this dead letter as it came, once, with a reason the audit log keeps."</p>
                <RevealIsland>
                    <CsrfField />
                    <input type="hidden" name="id" value=id.to_string() />
                    <label>"Reason"<input name="reason" required=true maxlength="1000" placeholder="why you need the unmasked values" /></label>
                    <button class="btn" type="submit" data-testid="reveal">"Reveal"</button>
                </RevealIsland>
            </details>
        </IfRole>

        <h2>"Payload "<span class="badge" data-testid="payload-format">
            {d.payload_format.clone().unwrap_or_else(|| d.payload.kind().to_string())}
        </span></h2>
        {d.payload_note.clone().map(|n| view! { <p class="note" data-testid="payload-note">{n}</p> })}
        {d.payload_format.is_some().then(|| view! {
            <p class="note">"Decoded for reading; a replay sends the original bytes."</p>
        })}
        <pre class="payload" data-testid="payload">{d.payload.text().to_string()}</pre>
        {d.replay_payload.clone().map(|p| view! {
            <h2>"Replayed as "<span class="badge">{p.kind()}</span></h2>
            <pre class="payload">{p.text().to_string()}</pre>
        })}

        <h2>"Headers"</h2>
        <table class="grid" data-testid="headers">
            <thead><tr><th scope="col">"Key"</th><th scope="col">"Value"</th><th scope="col">"Meaning"</th><th scope="col">"On replay"</th></tr></thead>
            <tbody>
                {d.headers.clone().into_iter().map(|h| view! {
                    <tr>
                        <td class="mono">{h.key}</td>
                        <td class="mono wrap">{h.value}</td>
                        <td>{h.meaning.unwrap_or_default()}</td>
                        <td>{if h.carried { "carried" } else { "dropped" }}</td>
                    </tr>
                }).collect_view()}
                {d.headers.is_empty().then(|| view! { <tr><td colspan="4" class="empty">"No headers."</td></tr> })}
            </tbody>
        </table>

        <h2>"Replay history"</h2>
        {if d.replays.is_empty() {
            view! { <p class="empty">"Never replayed."</p> }.into_any()
        } else {
            view! {
                <table class="grid" data-testid="replays">
                    <thead><tr>
                        <th scope="col">"When"</th><th scope="col">"By"</th><th scope="col">"Status"</th>
                        <th scope="col">"Sent to"</th><th scope="col">"Outcome"</th><th scope="col">"Replay id"</th>
                    </tr></thead>
                    <tbody>
                        {d.replays.clone().into_iter().map(|r| view! { <ReplayLine r /> }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

/// The reveal form and, once the server answered, what it revealed — held in this page's
/// memory only (nothing is stored in the browser; a reload shows the masked page again).
#[island]
pub fn RevealIsland(children: Children) -> impl IntoView {
    let action = ServerAction::<RevealDeadLetter>::new();
    view! {
        <ActionForm action attr:class="inline" attr:data-testid="reveal-form">
            {children()}
        </ActionForm>
        {move || action.value().get().map(|r| match r {
            Ok(Some(d)) => view! {
                <div class="revealed" data-testid="revealed">
                    <p class="note">"Unmasked, for you only; this reveal is in the audit log."</p>
                    <pre class="payload" data-testid="revealed-payload">{d.payload.text().to_string()}</pre>
                    <table class="grid" data-testid="revealed-headers">
                        <tbody>
                            {d.headers.into_iter().map(|h| view! {
                                <tr><td class="mono">{h.key}</td><td class="mono wrap">{h.value}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any(),
            Ok(None) => view! { <p class="error">"No such dead letter."</p> }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
        })}
    }
}

/// The edit-and-resend form and what the server said: the changes for review, or the
/// replay it sent (or why not).
#[island]
pub fn EditIsland(children: Children) -> impl IntoView {
    let action = ServerAction::<EditDeadLetter>::new();
    view! {
        <ActionForm action attr:class="edit-form" attr:data-testid="edit-form">
            {children()}
        </ActionForm>
        {move || action.value().get().map(|r| match r {
            Ok(o) => view! {
                <div class="edit-result" data-testid="edit-result">
                    <p>{match &o.sent {
                        Some(s) => format!("{} to {}", s.outcome, s.position.clone().unwrap_or_else(|| o.topic.clone())),
                        None => format!("{} change(s) — tick Send and submit to send to {}.", o.changes.len(), o.topic),
                    }}</p>
                    <ul class="changes mono" data-testid="edit-changes">
                        {o.changes.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}
                    </ul>
                </div>
            }.into_any(),
            Err(e) => view! { <p class="error" role="alert" data-testid="edit-error">{e.to_string()}</p> }.into_any(),
        })}
    }
}

#[component]
fn ReplayLine(r: ReplayView) -> impl IntoView {
    let to = match (r.target_partition, r.target_offset) {
        (Some(p), Some(o)) => format!("{}/{p}@{o}", r.target_topic),
        _ => r.target_topic.clone(),
    };
    let o = r.outcome;
    let outcome = match (o.came_back_as, &o.order_id) {
        (Some(n), _) => view! { <a href=dead_letter_href(n)>{o.label.clone()}</a> }.into_any(),
        (None, Some(order)) => view! {
            <span>{o.label.clone()}" · "<a href=crate::ops::order_href(order)>{order.clone()}</a>
                {o.order_status.map(|s| format!(" ({s})"))}</span>
        }
        .into_any(),
        _ => view! { <span>{o.label.clone()}</span> }.into_any(),
    };
    view! {
        <tr>
            <td class="mono">{r.created_at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
            <td>{r.requested_by}{r.job_id.map(|j| format!(" (job …{})", &j[j.len().saturating_sub(8)..]))}</td>
            <td>{r.status.as_str()}{r.error.map(|e| view! { <span class="error">{format!(": {e}")}</span> })}</td>
            <td class="mono">{to}</td>
            <td data-testid="outcome">{outcome}
                {(!r.changes.is_empty()).then(|| view! {
                    <details class="edited" data-testid="replay-changes">
                        <summary>{format!("edited copy: {} change(s)", r.changes.len())}</summary>
                        <ul class="mono">{r.changes.iter().map(|c| view! { <li>{c.clone()}</li> }).collect_view()}</ul>
                    </details>
                })}
            </td>
            <td class="mono">{r.replay_id}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::escape_html;

    #[test]
    fn textarea_text_cannot_leave_its_element() {
        assert_eq!(
            escape_html("</textarea><script>alert(1)</script> & more"),
            "&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"
        );
    }
}
