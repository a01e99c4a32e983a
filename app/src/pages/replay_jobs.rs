//! Replay jobs with live progress: a `<progress>` bar, counts, rate and ETA per job,
//! updated by pushed `replay_job` messages, and a Cancel button while a job runs.
//! (No inline styles anywhere: the CSP forbids them; the bar is the native element.)
//!
//! The panel is an island ([`JobsPanel`]): the dead-letter page loads the jobs on the
//! server and passes them in; the browser keeps them current. When a job it showed
//! running has ended, it shows the page again from the server, so the list and the
//! groups around it show the new statuses.

use crate::auth::SessionView;
use crate::dlq::server_fns::*;
use crate::dlq::*;
use crate::ops::LiveMessage;
use crate::push::{self, LiveBadge, LiveState};
use crate::session::{self, CsrfField, IfRole};
use leptos::prelude::*;

/// Jobs shown: pushed versions replace loaded ones (unless the loaded one has ended and the
/// pushed one has not: a reload after a reconnect can be newer); newest first, running on
/// top.
pub fn merge_jobs(pushed: &[ReplayJobView], loaded: &[ReplayJobView]) -> Vec<ReplayJobView> {
    let mut out: Vec<ReplayJobView> = loaded
        .iter()
        .map(|j| match pushed.iter().find(|p| p.id == j.id) {
            Some(p) if !p.running() || j.running() => p.clone(),
            _ => j.clone(),
        })
        .collect();
    for p in pushed {
        if !out.iter().any(|j| j.id == p.id) {
            out.push(p.clone());
        }
    }
    out.sort_by(|a, b| {
        b.running()
            .cmp(&a.running())
            .then(b.created_at.cmp(&a.created_at))
    });
    out
}

/// The jobs as loaded with the page (`jobs`, or the `error` loading them), the one a
/// just-started job's redirect named (`highlight`), and the viewer's session (for the
/// Cancel button's role check and CSRF token).
#[island]
pub fn JobsPanel(
    jobs: Vec<ReplayJobView>,
    error: Option<String>,
    highlight: Option<String>,
    session: Option<SessionView>,
) -> impl IntoView {
    session::provide(session);
    let cancel = ServerAction::<CancelReplayJob>::new();
    let send_now = ServerAction::<StopJobWaiting>::new();
    let loaded = RwSignal::new(jobs);
    let error = RwSignal::new(error);
    let reload = move || {
        leptos::task::spawn_local(async move {
            match load_replay_jobs().await {
                Ok(jobs) => {
                    loaded.set(jobs);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        })
    };
    // Reloaded after a cancel or a "send now".
    Effect::new(move |_| {
        if cancel.version().get() + send_now.version().get() > 0 {
            reload();
        }
    });
    // Each time the push stream (re)opens: what happened before it did (a job that started
    // and ended while this page was loading, or during a server restart) is only in a
    // reload, never in a push.
    let state = push::state();
    Effect::new(move |was_live: Option<bool>| {
        let live = state.get() == LiveState::Live;
        if live && was_live == Some(false) {
            reload();
        }
        live
    });
    let pushed = RwSignal::new(Vec::<ReplayJobView>::new());
    let shown = move || merge_jobs(&pushed.get(), &loaded.get());
    // While a job runs, a reload every few seconds as well: pushes make progress
    // immediate, this makes it certain (a push missed in a reconnect, or while the page
    // was being replaced, is not waited for).
    Effect::new(move |_| {
        let poll = move || {
            if loaded.get_untracked().iter().any(ReplayJobView::running) {
                reload();
            }
        };
        if let Ok(handle) = set_interval_with_handle(poll, std::time::Duration::from_millis(2500)) {
            on_cleanup(move || handle.clear());
        }
    });
    push::subscribe(move |msg| {
        if let LiveMessage::ReplayJob(job) = msg {
            pushed.update(|v| {
                v.retain(|j| j.id != job.id);
                v.push(job);
            });
        }
    });
    // A job shown running has ended (pushed or reloaded): the list's statuses changed.
    Effect::new(move |was_running: Option<Vec<String>>| {
        let jobs = shown();
        if let Some(was) = was_running {
            if jobs.iter().any(|j| !j.running() && was.contains(&j.id)) {
                // The statuses of the list around the panel changed; pages render on the
                // server only.
                crate::forms::page::show_again();
            }
        }
        jobs.into_iter()
            .filter(ReplayJobView::running)
            .map(|j| j.id)
            .collect::<Vec<_>>()
    });
    let highlight = StoredValue::new(highlight);
    view! {
        <section class="jobs" aria-label="Replay jobs" data-testid="jobs">
            <div class="jobs-head">
                <h2>"Replay jobs"</h2>
                <LiveBadge />
            </div>
            {move || {
                let jobs = shown();
                if jobs.is_empty() {
                    return view! { <p class="empty">"No replay jobs yet."</p> }.into_any();
                }
                view! {
                    <ul class="job-list">
                        {jobs.into_iter().map(|j| {
                            let highlighted = highlight.with_value(|h| h.as_deref() == Some(j.id.as_str()));
                            view! { <JobLine j highlighted cancel send_now /> }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {move || error.get().map(|e| view! { <p class="error">{e}</p> })}
            {move || cancel.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error">{e.to_string()}</p> })}
            {move || send_now.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error">{e.to_string()}</p> })}
        </section>
    }
}

#[component]
fn JobLine(
    j: ReplayJobView,
    highlighted: bool,
    cancel: ServerAction<CancelReplayJob>,
    send_now: ServerAction<StopJobWaiting>,
) -> impl IntoView {
    let class = format!(
        "job job-{}{}",
        j.status,
        if highlighted { " highlighted" } else { "" }
    );
    let done = j.done();
    let running = j.running();
    let rate = if j.throttle > 0 {
        format!("{} msg/s (throttle {})", j.rate, j.throttle)
    } else {
        format!("{} msg/s", j.rate)
    };
    let eta = j.eta_secs.map(|s| format!("ETA {}", eta_display(s)));
    let short =
        j.id.chars()
            .rev()
            .take(8)
            .collect::<String>()
            .chars()
            .rev()
            .collect::<String>();
    let label = format!("Replay job {short}: {done} of {}", j.total);
    let id = j.id.clone();
    let waiting = j.waiting.is_some();
    view! {
        <li class=class data-job-id=j.id.clone() data-status=j.status.as_str()>
            <div class="job-top">
                <span class="mono">{short}</span>
                <span class=format!("status job-status-{}", j.status)>{j.status.as_str()}</span>
                <span>{j.kind.clone()}" · "{j.dlq_topics.join(", ")}" · by "{j.created_by.clone()}</span>
                <span class="muted">{j.created_at.format("%H:%M:%S").to_string()}</span>
            </div>
            <progress max=j.total.max(1).to_string() value=done.to_string() aria-label=label></progress>
            <div class="job-counts" data-testid="job-counts">
                <span><strong>{j.sent}</strong>" sent"</span>
                {(j.skipped > 0).then(|| view! { <span>{j.skipped}" skipped"</span> })}
                {(j.parked > 0).then(|| view! { <span>{j.parked}" parked"</span> })}
                {(j.failed > 0).then(|| view! { <span class="error">{j.failed}" failed"</span> })}
                {(j.cancelled > 0).then(|| view! { <span>{j.cancelled}" cancelled"</span> })}
                <span>" of "{j.total}</span>
                <span class="muted">{rate}</span>
                {eta.map(|e| view! { <span class="muted">{e}</span> })}
                {j.waiting.clone().map(|w| view! { <span class="waiting" data-testid="job-waiting">{w}</span> })}
                {j.cancelled_by.clone().map(|b| view! { <span class="muted">"cancelled by "{b}</span> })}
                {j.error.clone().map(|e| view! { <span class="error">{e}</span> })}
            </div>
            {running.then(|| {
                let id = StoredValue::new(id);
                view! {
                    <IfRole role=crate::auth::Role::Operator>
                        <div class="job-actions">
                        <ActionForm action=cancel attr:class="inline">
                            <CsrfField />
                            <input type="hidden" name="job" value=id.get_value() />
                            <button class="btn small danger" type="submit" data-testid="cancel-job">"Cancel"</button>
                        </ActionForm>
                        {waiting.then(|| view! {
                            <ActionForm action=send_now attr:class="inline">
                                <CsrfField />
                                <input type="hidden" name="job" value=id.get_value() />
                                <button class="btn small" type="submit" data-testid="send-now"
                                    title="Send without waiting for the breaker">"Send now"</button>
                            </ActionForm>
                        })}
                        </div>
                    </IfRole>
                }
            })}
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::states::JobStatus::{self, Completed, Running};
    use chrono::{DateTime, Utc};

    fn job(id: &str, status: JobStatus, at: i64, sent: i64) -> ReplayJobView {
        ReplayJobView {
            id: id.into(),
            kind: "selected".into(),
            status,
            created_by: "alice".into(),
            created_at: DateTime::<Utc>::from_timestamp(at, 0).unwrap(),
            finished_at: None,
            throttle: 0,
            total: 10,
            sent,
            skipped: 0,
            parked: 0,
            failed: 0,
            cancelled: 0,
            rate: 0,
            eta_secs: None,
            dlq_topics: vec![],
            error: None,
            cancelled_by: None,
            hold_on: vec![],
            waiting: None,
        }
    }

    #[test]
    fn pushed_progress_replaces_loaded_and_running_jobs_come_first() {
        let loaded = vec![job("a", Completed, 3, 10), job("b", Running, 1, 2)];
        let pushed = vec![job("b", Running, 1, 7), job("c", Running, 5, 0)];
        let merged = merge_jobs(&pushed, &loaded);
        let ids: Vec<(&str, i64)> = merged.iter().map(|j| (j.id.as_str(), j.sent)).collect();
        assert_eq!(ids, vec![("c", 0), ("b", 7), ("a", 10)]);
    }

    #[test]
    fn a_pushed_job_reads_back() {
        let m = LiveMessage::ReplayJob(job("a", Running, 1, 4));
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<LiveMessage>(&json).unwrap(), m);
        assert_eq!(m.event_name(), "replay_job");
    }

    #[test]
    fn a_reload_that_saw_the_end_beats_an_older_push() {
        let loaded = vec![job("a", Completed, 1, 10)];
        let pushed = vec![job("a", Running, 1, 4)];
        assert_eq!(merge_jobs(&pushed, &loaded)[0].status, Completed);
    }
}
