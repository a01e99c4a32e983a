//! The admin contract: users and roles, the audit log, fleet fault injection and the write
//! kill-switch. Types shared by server and browser, the [`AdminApi`] the server implements,
//! and the server functions the admin page calls — each requiring the admin role.
//!
//! Writes live under the `admin/` endpoint prefix, which the server's auth layer maps to
//! the admin role (and CSRF); the kill-switch toggle sits under `admin/settings/`, the one
//! write that stays possible while writes are off.

use crate::auth::Role;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultView {
    pub name: String,
    pub description: String,
    pub value: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminOverview {
    pub users: Vec<UserView>,
    /// `None` when the fleet does not share this database.
    pub faults: Option<Vec<FaultView>>,
    pub writes_enabled: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditView {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// The detail as compact JSON text.
    pub detail: String,
    pub source: Option<String>,
}

/// Narrows the audit log; empty strings mean any. `before` pages back by id (keyset).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub before: Option<i64>,
}

pub const AUDIT_PAGE: i64 = 100;

#[cfg(feature = "ssr")]
pub use server_side::*;

#[cfg(feature = "ssr")]
mod server_side {
    use super::*;
    use crate::api::OpsError;
    use crate::auth::Principal;
    use std::sync::Arc;

    /// What the admin page needs from the server, implemented over PostgreSQL.
    #[async_trait::async_trait]
    pub trait AdminApi: Send + Sync + 'static {
        async fn overview(&self) -> Result<AdminOverview, OpsError>;
        async fn audit(&self, filter: AuditFilter, limit: i64) -> Result<Vec<AuditView>, OpsError>;
        async fn add_user(
            &self,
            by: &Principal,
            name: &str,
            role: Role,
            password: &str,
        ) -> Result<(), OpsError>;
        async fn update_user(
            &self,
            by: &Principal,
            name: &str,
            role: Option<Role>,
            disabled: Option<bool>,
            password: Option<&str>,
        ) -> Result<(), OpsError>;
        async fn set_writes(&self, by: &Principal, enabled: bool) -> Result<(), OpsError>;
        async fn set_fault(&self, by: &Principal, name: &str, value: f64) -> Result<(), OpsError>;
    }

    pub type SharedAdmin = Arc<dyn AdminApi>;

    /// The admin API for a server function, after checking the caller is an admin.
    pub fn admin_api() -> Result<(Principal, SharedAdmin), ServerFnError> {
        let who = crate::auth::require(Role::Admin)?;
        let api = use_context::<SharedAdmin>()
            .ok_or_else(|| ServerFnError::new("admin API unavailable"))?;
        Ok((who, api))
    }
}

#[cfg(feature = "ssr")]
use crate::api::failed;

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
