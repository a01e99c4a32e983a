//! Who is asking: the roles of the console and the principal a request runs as.
//!
//! The server's auth layer resolves the session to a [`Principal`] before any page or
//! server function runs and provides it through Leptos context; server functions call
//! [`require`] with the role their effect needs. The browser only ever sees these types to
//! decide what to show — every decision that matters is taken again on the server.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The three roles, in increasing power: each one may do everything the one before may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees everything, changes nothing.
    Viewer,
    /// Replays and discards dead letters.
    Operator,
    /// Manages users, fault injection and the write kill-switch.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may do what `needed` is required for.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?} (expected viewer, operator or admin)"
            )),
        }
    }
}

/// The signed-in user a request runs as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    /// The client address the request came from (for the audit log).
    pub source: String,
}

/// What the page needs to know about its viewer: shown in the top bar, used to hide
/// controls the server would refuse anyway, and the CSRF token forms must echo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub name: String,
    pub role: Role,
    pub csrf: String,
    /// False while an admin has turned every write off.
    pub writes_enabled: bool,
}

impl SessionView {
    pub fn can(&self, needed: Role) -> bool {
        self.role.allows(needed)
    }
}

/// The name of the form field (and of the header, for scripts) that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

#[cfg(feature = "ssr")]
pub use server_side::*;

#[cfg(feature = "ssr")]
mod server_side {
    use super::{Principal, Role};
    use leptos::prelude::*;

    /// The principal of the current request, if the auth layer resolved one.
    pub fn principal() -> Option<Principal> {
        use_context::<Principal>()
    }

    /// The current principal if its role allows `needed`; otherwise an error for the
    /// caller. Every server function with an effect calls this first (the HTTP layer has
    /// already refused anyone without a session or the role; this is the second lock).
    pub fn require(needed: Role) -> Result<Principal, ServerFnError> {
        match principal() {
            None => Err(ServerFnError::new("not signed in")),
            Some(p) if p.role.allows(needed) => Ok(p),
            Some(p) => Err(ServerFnError::new(format!(
                "forbidden: this needs the {needed} role, you are {}",
                p.role
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Admin.allows(Role::Operator));
        assert!(Role::Operator.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Operator));
        assert!(!Role::Operator.allows(Role::Admin));
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
