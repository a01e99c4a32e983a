//! The sidebar on every page: a question box, the conversation with streamed answers,
//! links to the records each answer cites, and replay proposal cards whose Confirm button
//! is the only way from an assistant answer to a change.
//!
//! An island: the whole sidebar runs in the browser. It gets the session as a prop for the
//! CSRF token its calls echo (the server checks token and role on every call).

use super::{
    ask_assistant, assistant_history, confirm_replay_proposal, AssistantEvent, ChatTurn, Citation,
    LineBuffer, ReplayProposal,
};
use crate::auth::SessionView;
use crate::session;
use leptos::prelude::*;

/// Where the browser keeps the conversation id for the rest of its session (tab).
#[cfg(feature = "hydrate")]
const CONVERSATION_KEY: &str = "switchyard-assistant-conversation";

#[cfg(feature = "hydrate")]
fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// The conversation this browser session had, if any (none on the server).
fn stored_conversation() -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        session_storage()?.get_item(CONVERSATION_KEY).ok()?
    }
    #[cfg(not(feature = "hydrate"))]
    None
}

fn store_conversation(id: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(s) = session_storage() {
        let _ = s.set_item(CONVERSATION_KEY, id);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

#[island]
pub fn AssistantSidebar(session: Option<SessionView>) -> impl IntoView {
    session::provide(session);
    // Read now: event handlers run outside the component, where context is out of reach.
    let csrf = StoredValue::new(session::csrf());
    let turns = RwSignal::new(Vec::<ChatTurn>::new());
    let question = RwSignal::new(String::new());
    let conversation = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    // A reload or a new page keeps the conversation of this browser session.
    Effect::new(move |_| {
        if let Some(id) = stored_conversation() {
            conversation.set(Some(id.clone()));
            leptos::task::spawn_local(async move {
                if let Ok(earlier) = assistant_history(id).await {
                    if turns.get_untracked().is_empty() {
                        turns.set(earlier);
                    }
                }
            });
        }
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let q = question.get_untracked().trim().to_string();
        if q.is_empty() || busy.get_untracked() {
            return;
        }
        busy.set(true);
        question.set(String::new());
        turns.update(|t| {
            t.push(ChatTurn {
                role: "user".into(),
                text: q.clone(),
                ..Default::default()
            });
            t.push(ChatTurn {
                role: "assistant".into(),
                ..Default::default()
            });
        });
        let conv = conversation.get_untracked();
        let csrf = csrf.get_value();
        let apply = move |ev: AssistantEvent| {
            if let AssistantEvent::Started {
                conversation: c, ..
            } = &ev
            {
                store_conversation(c);
                conversation.set(Some(c.clone()));
            }
            turns.update(|t| {
                if let Some(last) = t.last_mut() {
                    last.apply(&ev)
                }
            });
        };
        leptos::task::spawn_local(async move {
            use futures::StreamExt;
            match ask_assistant(csrf, conv, q).await {
                Ok(stream) => {
                    let mut chunks = stream.into_inner();
                    let mut lines = LineBuffer::default();
                    while let Some(chunk) = chunks.next().await {
                        match chunk {
                            Ok(text) => lines.push(&text).into_iter().for_each(apply),
                            Err(e) => {
                                apply(AssistantEvent::Error {
                                    message: e.to_string(),
                                });
                                break;
                            }
                        }
                    }
                }
                Err(e) => apply(AssistantEvent::Error {
                    message: e.to_string(),
                }),
            }
            busy.set(false);
        });
    };

    // The newest turn in view: the log follows the conversation as it grows (after the
    // list has rendered, hence the next frame).
    let log = NodeRef::<leptos::html::Ol>::new();
    Effect::new(move |_| {
        turns.track();
        request_animation_frame(move || {
            if let Some(el) = log.get_untracked() {
                el.set_scroll_top(el.scroll_height());
            }
        });
    });

    view! {
        <details class="assistant" data-testid="assistant">
            <summary>"Assistant"</summary>
            // The panel lays out log and question box: the log scrolls, the box stays put.
            <div class="assistant-panel">
            <ol class="assistant-log" data-testid="assistant-log" aria-live="polite" node_ref=log>
                {move || turns.get().into_iter().map(|t| view! { <Turn t /> }).collect_view()}
            </ol>
            <form class="assistant-ask" on:submit=submit>
                <label for="assistant-question" class="sr-only">"Ask the assistant"</label>
                <textarea
                    id="assistant-question"
                    name="question"
                    rows="2"
                    maxlength="2000"
                    placeholder="Why did ORD-1042 fail? Which breakers are open?"
                    data-testid="assistant-question"
                    prop:value=move || question.get()
                    on:input=move |ev| question.set(event_target_value(&ev))
                ></textarea>
                <button type="submit" data-testid="assistant-ask" disabled=move || busy.get()>
                    {move || if busy.get() { "Answering…" } else { "Ask" }}
                </button>
            </form>
            </div>
        </details>
    }
}

#[component]
fn Turn(t: ChatTurn) -> impl IntoView {
    let class = format!("turn turn-{}", t.role);
    let rule_based = t.rule_based && t.role == "assistant";
    let (summary, details) = split_answer(&t.text);
    let text = linked(summary, &t.citations);
    let details = (!details.is_empty()).then(|| {
        let lines: Vec<AnyView> = details
            .iter()
            .map(|l| match l.strip_prefix("- ") {
                Some(item) => view! { <li>{linked(item, &t.citations)}</li> }.into_any(),
                None => view! { <li class="plain">{linked(l, &t.citations)}</li> }.into_any(),
            })
            .collect();
        view! {
            <details class="answer-details">
                <summary>"Details"</summary>
                <ul>{lines}</ul>
            </details>
        }
    });
    view! {
        <li class=class>
            <Show when=move || rule_based>
                <span class="badge rule-based" data-testid="rule-based">"rule-based"</span>
            </Show>
            <p class="answer">{text}</p>
            {details}
            {(!t.citations.is_empty()).then(|| view! {
                <ul class="cites" aria-label="Records used">
                    {t.citations.into_iter().map(|c| view! {
                        <li><a href=c.href>{c.label}</a></li>
                    }).collect_view()}
                </ul>
            })}
            {t.proposals.into_iter().map(|p| view! { <ProposalCard p /> }).collect_view()}
            {t.notes.into_iter().map(|n| view! { <p class="note">{n}</p> }).collect_view()}
        </li>
    }
}

/// An answer's summary (its first paragraph, read at a glance) and its details (the lines
/// after the first blank line), which the sidebar shows collapsed. A question, or an
/// answer of one paragraph, has no details.
pub fn split_answer(text: &str) -> (&str, Vec<&str>) {
    match text.split_once("\n\n") {
        Some((summary, rest)) => (
            summary,
            rest.lines().filter(|l| !l.trim().is_empty()).collect(),
        ),
        None => (text, Vec::new()),
    }
}

/// The answer's text with every cited label turned into a link to its record.
fn linked(text: &str, cites: &[Citation]) -> Vec<AnyView> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let next = cites
            .iter()
            .filter(|c| !c.label.is_empty())
            .filter_map(|c| rest.find(&c.label).map(|i| (i, c)))
            .min_by_key(|(i, c)| (*i, usize::MAX - c.label.len()));
        match next {
            Some((i, c)) => {
                out.push(rest[..i].to_string().into_any());
                out.push(view! { <a href=c.href.clone()>{c.label.clone()}</a> }.into_any());
                rest = &rest[i + c.label.len()..];
            }
            None => {
                out.push(rest.to_string().into_any());
                return out;
            }
        }
    }
}

#[component]
fn ProposalCard(p: ReplayProposal) -> impl IntoView {
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let ids = StoredValue::new(p.ids.clone());
    let csrf = StoredValue::new(session::csrf());
    let confirm = move |_| {
        let csrf = csrf.get_value();
        leptos::task::spawn_local(async move {
            let r = confirm_replay_proposal(csrf, ids.get_value()).await;
            outcome.set(Some(r.map_err(|e| e.to_string())));
        });
    };
    let heading = p.describe();
    view! {
        <div class="proposal" data-testid="proposal-card">
            <p class="proposal-head"><strong>"Proposed replay"</strong>" — not run: "{heading}</p>
            <table class="grid">
                <thead><tr>
                    <th scope="col">"To topic"</th><th scope="col">"Error"</th><th scope="col" class="num">"Count"</th>
                </tr></thead>
                <tbody>
                    {p.groups.into_iter().map(|g| view! {
                        <tr><td class="mono">{g.topic}</td><td>{g.error}</td><td class="num">{g.count}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            {(p.total > 0).then(|| view! {
                <button type="button" class="confirm" data-testid="proposal-confirm" on:click=confirm>
                    "Confirm replay"
                </button>
            })}
            {move || outcome.get().map(|r| match r {
                Ok(m) => view! { <p class="note">{m}</p> }.into_any(),
                Err(e) => view! { <p class="error">{e}</p> }.into_any(),
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::split_answer;

    #[test]
    fn answers_split_into_summary_and_details() {
        assert_eq!(split_answer("one line"), ("one line", vec![]));
        let (s, d) = split_answer("2 outages.\n\n- first\n- second\n\n- third");
        assert_eq!(s, "2 outages.");
        assert_eq!(d, vec!["- first", "- second", "- third"]);
    }
}
