//! The saga actions' server functions: a command from the order page (operator, CSRF,
//! kill-switch — `ops/`), and the admin's switch per action (`admin/`).

use super::model::*;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn api() -> Result<super::SharedSagaActions, ServerFnError> {
    use_context::<super::SharedSagaActions>()
        .ok_or_else(|| ServerFnError::new("saga actions unavailable"))
}

/// Sends `action` to the order's saga, with the operator's reason.
#[server(endpoint = "ops/orders/command", output = crate::codec::Json)]
pub async fn send_saga_command(
    order_id: String,
    action: String,
    step: Option<String>,
    phase: Option<String>,
    reason: String,
    csrf: String,
) -> Result<CommandView, ServerFnError> {
    let who = crate::auth::require(crate::auth::Role::Operator)?;
    let _ = csrf; // validated by the HTTP layer against the session
    let req = CommandRequest::from_form(&order_id, &action, step, phase, &reason)
        .map_err(ServerFnError::new)?;
    api()?
        .send(&who, &req)
        .await
        .map_err(crate::ops::failed("could not send the command"))
}

/// Switches one saga action on or off for every operator.
#[server(endpoint = "admin/saga-actions", output = crate::codec::Json)]
pub async fn set_saga_action(
    action: String,
    enabled: String,
    csrf: String,
) -> Result<(), ServerFnError> {
    let who = crate::auth::require(crate::auth::Role::Admin)?;
    let _ = csrf;
    let action = SagaAction::parse(&action)
        .ok_or_else(|| ServerFnError::new(format!("no saga action {action:?}")))?;
    api()?
        .set_enabled(&who, action, enabled == "true")
        .await
        .map_err(crate::ops::failed("could not change the setting"))
}
