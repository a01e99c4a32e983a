//! Security headers on every response, and the Content-Security-Policy of the pages.
//!
//! Pages get a per-response nonce (Leptos renders it into its hydration and resource
//! scripts), so only our own scripts run: an injected `<script>` in a dead-letter payload
//! would be escaped text anyway, and the CSP makes sure that even markup that slipped
//! through could not execute. Everything else gets `default-src 'none'`.

use axum::body::Body;
use axum::http::header::{
    HeaderName, HeaderValue, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::Response;

/// The CSP of a Leptos page rendered with `nonce`.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// For the login page and other server-made HTML without scripts.
pub const STATIC_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Adds the fixed headers, the static CSP where the page did not set its own, and, when the
/// console is served over TLS (`secure`: an `https` public URL or
/// `SWITCHYARD_SECURE_COOKIES`), `Strict-Transport-Security`, so browsers never try plain
/// HTTP for a year.
pub async fn apply(mut resp: Response<Body>, secure: bool) -> Response<Body> {
    let h = resp.headers_mut();
    if secure {
        h.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(CONTENT_SECURITY_POLICY) {
        h.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(STATIC_CSP),
        );
    }
    resp
}
