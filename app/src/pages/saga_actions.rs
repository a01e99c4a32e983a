//! The order page's saga actions (issue 23): what the saga waits on, and for operators a
//! form that sends a command to it — retry the step it waits on, force compensation, or
//! terminate — with a required reason. Only the actions an admin left on are offered; the
//! server checks all of it again (role, CSRF, kill-switch, the switch per action).

use crate::forms::{ActionIsland, FlashMessage, FormAction};
use crate::saga::{SagaAction, SagaActionsView};
use crate::session::{CsrfField, IfRole};
use leptos::prelude::*;

#[component]
pub fn SagaActionsPanel(order_id: String, actions: SagaActionsView) -> impl IntoView {
    let Some(waiting) = actions.waiting_on.clone() else {
        return view! { <FlashMessage of=FormAction::SagaCommand testid="command-result" /> }
            .into_any();
    };
    let offered: Vec<SagaAction> = SagaAction::ALL
        .into_iter()
        .filter(|a| actions.enabled.contains(a))
        .filter(|a| {
            !(waiting.phase == "compensate" && *a == SagaAction::Compensate && !waiting.stuck)
        })
        .collect();
    let none_offered = offered.is_empty();
    view! {
        <div class="card saga-actions" data-testid="saga-actions">
            <p>"Waiting on: "<strong data-testid="waiting-on">{waiting.describe()}</strong></p>
            {actions.breaker_not_closed.clone().map(|b| view! {
                <p class="note" data-testid="breaker-not-closed">
                    {b}": a retry now would fail fast; retry once it has closed."
                </p>
            })}
            <IfRole role=crate::auth::Role::Operator>
                {if none_offered {
                    view! { <p class="hint" data-testid="actions-off">"Saga actions are switched off by an admin."</p> }.into_any()
                } else {
                    view! {
                        <ActionIsland action=FormAction::SagaCommand class="inline" testid="command-form">
                            <CsrfField />
                            <input type="hidden" name="order_id" value=order_id.clone() />
                            <input type="hidden" name="step" value=waiting.step.clone() />
                            <input type="hidden" name="phase" value=waiting.phase.clone() />
                            <label>"Action"
                                <select name="action" data-testid="command-action">
                                    {offered.iter().map(|a| view! {
                                        <option value=a.as_str() title=a.explain()>{a.label()}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <label>"Reason"<input name="reason" required=true maxlength="1000" data-testid="command-reason"
                                placeholder="why (kept with the command and in the audit log)" /></label>
                            <button class="btn" type="submit" data-testid="command-send">"Send"</button>
                        </ActionIsland>
                    }.into_any()
                }}
            </IfRole>
            <FlashMessage of=FormAction::SagaCommand testid="command-result" />
        </div>
    }
    .into_any()
}
