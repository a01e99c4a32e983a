//! The admin contract's trait, implemented by the server and provided through Leptos
//! context (ssr only).

use super::*;
use crate::auth::{Principal, Role};
use crate::ops::OpsError;
use leptos::prelude::{use_context, ServerFnError};
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
    /// Closes an open log incident with the admin's note (audited); an incident holding
    /// its partition paused needs a decision (`resume`), which is carried out with it.
    async fn resolve_log_incident(
        &self,
        by: &Principal,
        id: i64,
        note: &str,
        resume: Option<super::Resume>,
    ) -> Result<(), OpsError>;
}

pub type SharedAdmin = Arc<dyn AdminApi>;

/// The admin API for a server function, after checking the caller is an admin.
pub fn admin_api() -> Result<(Principal, SharedAdmin), ServerFnError> {
    let who = crate::auth::require(Role::Admin)?;
    let api =
        use_context::<SharedAdmin>().ok_or_else(|| ServerFnError::new("admin API unavailable"))?;
    Ok((who, api))
}
