//! The saga actions' server functions: a command from the order page and a batch over the
//! orders list's filter (operator, CSRF, kill-switch — `ops/`), their reads (viewer), and
//! the admin's switch per action (`admin/`).

use super::model::*;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

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

/// What a batch of `action` over the filtered orders would act on.
#[server(input = GetUrl, endpoint = "saga/batch-preview", output = crate::codec::Json)]
pub async fn preview_saga_batch(
    action: String,
    filter: Option<BatchFilter>,
) -> Result<BatchPreview, ServerFnError> {
    crate::auth::require(crate::auth::Role::Viewer)?;
    SagaAction::parse(&action)
        .ok_or_else(|| ServerFnError::new(format!("no saga action {action:?}")))?;
    api()?
        .preview_batch(&filter.unwrap_or_default().to_filter())
        .await
        .map_err(crate::ops::failed("could not preview the batch"))
}

/// Starts a batch of one action over the filtered orders, then shows its progress.
#[server(endpoint = "ops/orders/batch", output = crate::codec::Json)]
pub async fn start_saga_batch(
    action: String,
    reason: String,
    throttle: Option<u32>,
    expect: Option<i64>,
    filter: Option<BatchFilter>,
    csrf: String,
) -> Result<BatchJobView, ServerFnError> {
    let who = crate::auth::require(crate::auth::Role::Operator)?;
    let _ = csrf;
    let action = SagaAction::parse(&action)
        .ok_or_else(|| ServerFnError::new(format!("no saga action {action:?}")))?;
    let reason = reason.trim().to_string();
    if reason.is_empty() {
        return Err(ServerFnError::new(
            "a reason is required: it is the record of why",
        ));
    }
    if reason.chars().count() > MAX_REASON {
        return Err(ServerFnError::new(format!(
            "the reason is longer than {MAX_REASON} characters"
        )));
    }
    let req = BatchRequest {
        filter: filter.unwrap_or_default().to_filter(),
        action,
        reason,
        throttle: throttle.unwrap_or(0),
        expect,
    };
    let job = api()?
        .start_batch(&who, &req)
        .await
        .map_err(crate::ops::failed("could not start the batch"))?;
    leptos_axum::redirect(&format!("/orders?batch={}", job.id));
    Ok(job)
}

/// The most recent batches, newest first.
#[server(input = GetUrl, endpoint = "saga/batches", output = crate::codec::Json)]
pub async fn load_saga_batches() -> Result<Vec<BatchJobView>, ServerFnError> {
    crate::auth::require(crate::auth::Role::Viewer)?;
    api()?
        .batches(5)
        .await
        .map_err(crate::ops::failed("could not load the batches"))
}

/// Stops a running batch.
#[server(endpoint = "ops/orders/cancel-batch", output = crate::codec::Json)]
pub async fn cancel_saga_batch(batch: String, csrf: String) -> Result<BatchJobView, ServerFnError> {
    let who = crate::auth::require(crate::auth::Role::Operator)?;
    let _ = csrf;
    api()?
        .cancel_batch(&who, &batch)
        .await
        .map_err(crate::ops::failed("could not cancel the batch"))
}
