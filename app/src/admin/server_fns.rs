//! The admin contract's server functions.

#[cfg(feature = "ssr")]
use super::admin_api;
use super::model::*;
#[cfg(feature = "ssr")]
use crate::auth::Role;
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

#[cfg(feature = "ssr")]
use crate::ops::failed;

#[server(input = GetUrl, output = crate::codec::Json)]
pub async fn load_admin_overview() -> Result<AdminOverview, ServerFnError> {
    let (_, api) = admin_api()?;
    api.overview()
        .await
        .map_err(failed("could not load users and settings"))
}

#[server(input = GetUrl, output = crate::codec::Json)]
pub async fn audit_log(
    #[server(default)] filter: AuditFilter,
) -> Result<Vec<AuditView>, ServerFnError> {
    let (_, api) = admin_api()?;
    api.audit(filter, AUDIT_PAGE)
        .await
        .map_err(failed("could not load the audit log"))
}

#[server(endpoint = "admin/settings/writes", output = crate::codec::Json)]
pub async fn set_writes_enabled(csrf: String, enabled: bool) -> Result<(), ServerFnError> {
    let _ = csrf; // checked by the auth layer before this runs
    let (who, api) = admin_api()?;
    api.set_writes(&who, enabled)
        .await
        .map_err(failed("could not switch writes"))
}

#[server(endpoint = "admin/users/add", output = crate::codec::Json)]
pub async fn add_user(
    csrf: String,
    name: String,
    role: String,
    password: String,
) -> Result<(), ServerFnError> {
    let _ = csrf;
    let (who, api) = admin_api()?;
    let role: Role = role.parse().map_err(ServerFnError::new)?;
    api.add_user(&who, name.trim(), role, &password)
        .await
        .map_err(failed("could not add the user"))
}

#[server(endpoint = "admin/users/role", output = crate::codec::Json)]
pub async fn set_user_role(csrf: String, name: String, role: String) -> Result<(), ServerFnError> {
    let _ = csrf;
    let (who, api) = admin_api()?;
    let role: Role = role.parse().map_err(ServerFnError::new)?;
    if name == who.name && role != Role::Admin {
        return Err(ServerFnError::new(
            "you cannot take the admin role from yourself",
        ));
    }
    api.update_user(&who, &name, Some(role), None, None)
        .await
        .map_err(failed("could not change the role"))
}

#[server(endpoint = "admin/users/disabled", output = crate::codec::Json)]
pub async fn set_user_disabled(
    csrf: String,
    name: String,
    disabled: bool,
) -> Result<(), ServerFnError> {
    let _ = csrf;
    let (who, api) = admin_api()?;
    if name == who.name && disabled {
        return Err(ServerFnError::new("you cannot disable yourself"));
    }
    api.update_user(&who, &name, None, Some(disabled), None)
        .await
        .map_err(failed("could not change the user"))
}

#[server(endpoint = "admin/users/password", output = crate::codec::Json)]
pub async fn set_user_password(
    csrf: String,
    name: String,
    password: String,
) -> Result<(), ServerFnError> {
    let _ = csrf;
    let (who, api) = admin_api()?;
    api.update_user(&who, &name, None, None, Some(&password))
        .await
        .map_err(failed("could not set the password"))
}

#[server(endpoint = "admin/log-incidents/resolve", output = crate::codec::Json)]
pub async fn resolve_log_incident(
    csrf: String,
    id: i64,
    note: String,
    #[server(default)] resume: Option<super::Resume>,
) -> Result<(), ServerFnError> {
    let _ = csrf;
    let (who, api) = admin_api()?;
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 500 {
        return Err(ServerFnError::new(
            "say what was done about it (1 to 500 characters)",
        ));
    }
    api.resolve_log_incident(&who, id, note, resume)
        .await
        .map_err(failed("could not resolve the incident"))
}

#[server(endpoint = "admin/faults/set", output = crate::codec::Json)]
pub async fn set_fault(csrf: String, name: String, value: f64) -> Result<(), ServerFnError> {
    let _ = csrf;
    let (who, api) = admin_api()?;
    if !value.is_finite() {
        return Err(ServerFnError::new("a fault value is a finite number"));
    }
    api.set_fault(&who, &name, value)
        .await
        .map_err(failed("could not set the fault"))
}
