//! Which requests need what: the one table the auth layer consults for every request.
//!
//! Deny by default. Only a short list of paths is public (the login page and its form,
//! health probes, static assets); everything else needs a session, and:
//! - `GET`/`HEAD` need the viewer role (reads have no effect, so they carry no CSRF check);
//! - a state change (any other method) needs the role of its path's class: server
//!   functions under `/api/ops/` need operator, under `/api/admin/` admin, under
//!   `/api/assistant/` viewer (asking a question changes nothing but the conversation);
//!   logout needs a session; every other state change is refused as unclassified, so a
//!   write added later without a class fails closed (and fails the route test).

use axum::http::Method;
use switchyard_app::auth::Role;

/// What a request needs before it may reach its handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// A session whose user has at least this role.
    Read(Role),
    /// A session with at least this role, a valid CSRF token and, unless it is exempt,
    /// writes switched on.
    Write {
        role: Role,
        kill_switch_exempt: bool,
    },
    /// `/metrics`: a scraper's bearer token (when one is configured) or, failing that, a
    /// viewer's session.
    Scrape,
    /// Nobody: a state change on a path that has no class.
    Unclassified,
}

/// The login form's target; public (no session yet) but CSRF-checked against the
/// pre-login session's token.
pub const LOGIN_PATH: &str = "/auth/login";
pub const LOGOUT_PATH: &str = "/auth/logout";
pub const LOGIN_PAGE: &str = "/login";
pub const METRICS_PATH: &str = "/metrics";
/// The assistant's ask endpoint (a server function), gated per user by `http::limits`.
pub const ASSISTANT_ASK_PATH: &str = "/api/assistant/ask";

/// Paths served without a session: exact matches.
const PUBLIC_EXACT: &[&str] = &[
    LOGIN_PAGE,
    "/healthz",
    "/readyz",
    "/favicon.svg",
    super::oidc::START_PATH,
    super::oidc::CALLBACK_PATH,
];
/// Paths served without a session: prefixes (static assets only).
const PUBLIC_PREFIXES: &[&str] = &["/pkg/", "/style/"];

/// Server-function path classes for state changes, most specific first.
const WRITE_CLASSES: &[(&str, Role, bool)] = &[
    // The kill-switch itself must stay reachable while writes are off.
    ("/api/admin/settings/", Role::Admin, true),
    // A reveal changes nothing (it is audited): it stays open while writes are off.
    ("/api/admin/reveal/", Role::Admin, true),
    ("/api/admin/", Role::Admin, false),
    ("/api/ops/", Role::Operator, false),
    ("/api/assistant/", Role::Viewer, true),
];

pub fn is_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

/// The access rule for one request.
pub fn access(method: &Method, path: &str) -> Access {
    if is_read(method) {
        if PUBLIC_EXACT.contains(&path) || PUBLIC_PREFIXES.iter().any(|p| path.starts_with(p)) {
            return Access::Public;
        }
        if path == METRICS_PATH {
            return Access::Scrape;
        }
        return Access::Read(Role::Viewer);
    }
    if path == LOGIN_PATH {
        return Access::Public;
    }
    if path == LOGOUT_PATH {
        return Access::Write {
            role: Role::Viewer,
            kill_switch_exempt: true,
        };
    }
    for (prefix, role, exempt) in WRITE_CLASSES {
        if path.starts_with(prefix) {
            return Access::Write {
                role: *role,
                kill_switch_exempt: *exempt,
            };
        }
    }
    Access::Unclassified
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_need_a_viewer_except_the_public_few() {
        assert_eq!(access(&Method::GET, "/login"), Access::Public);
        assert_eq!(access(&Method::GET, "/pkg/switchyard.wasm"), Access::Public);
        assert_eq!(access(&Method::GET, "/healthz"), Access::Public);
        assert_eq!(access(&Method::GET, "/metrics"), Access::Scrape);
        assert_eq!(access(&Method::POST, "/metrics"), Access::Unclassified);
        for p in [
            "/",
            "/orders",
            "/api/live",
            "/admin",
            "/loginx",
            "/pkgx",
            "/api/ops/x",
        ] {
            assert_eq!(access(&Method::GET, p), Access::Read(Role::Viewer), "{p}");
        }
    }

    #[test]
    fn writes_need_their_class_and_unknown_writes_fail_closed() {
        let w = |role, kill_switch_exempt| Access::Write {
            role,
            kill_switch_exempt,
        };
        assert_eq!(
            access(&Method::POST, "/api/ops/dlq/replay"),
            w(Role::Operator, false)
        );
        assert_eq!(
            access(&Method::DELETE, "/api/admin/users"),
            w(Role::Admin, false)
        );
        assert_eq!(
            access(&Method::POST, "/api/admin/settings/writes"),
            w(Role::Admin, true)
        );
        assert_eq!(
            access(&Method::POST, "/api/assistant/ask"),
            w(Role::Viewer, true)
        );
        assert_eq!(access(&Method::POST, "/auth/logout"), w(Role::Viewer, true));
        assert_eq!(access(&Method::POST, "/auth/login"), Access::Public);
        for p in [
            "/api/recent_orders123",
            "/orders",
            "/login",
            "/healthz",
            "/pkg/x",
        ] {
            assert_eq!(access(&Method::POST, p), Access::Unclassified, "{p}");
        }
        assert_eq!(access(&Method::PUT, "/api/opsx"), Access::Unclassified);
    }
}
