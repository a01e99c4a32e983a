//! CSRF protection by synchronizer token: each session holds a random token, every state
//! change must echo it (form field `csrf`, or header `x-csrf-token` for scripts), compared
//! in constant time. SameSite=Strict cookies are the second lock, not the only one.
//!
//! Before sign-in there is no session (nothing is stored for an anonymous client), so the
//! sign-in form uses a double-submit cookie instead ([`LOGIN_COOKIE`]), plus a refusal of
//! any other `Origin`.

use axum::body::{to_bytes, Body};
use axum::http::header::{CONTENT_TYPE, HOST, ORIGIN};
use axum::http::{HeaderMap, HeaderValue, Request};
use switchyard_app::auth::{CSRF_FIELD, CSRF_HEADER};

/// Largest state-changing body the auth layer buffers to find the token.
pub const MAX_BODY: usize = 1 << 20;

pub fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal in time independent of where the first difference is.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The sign-in form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "switchyard_login_csrf";

/// The sign-in token the request's cookie carries, if it is one of ours in shape.
pub fn login_cookie(headers: &HeaderMap) -> Option<String> {
    super::cookies::get(headers, LOGIN_COOKIE)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
}

/// The `Set-Cookie` value for the sign-in token (`max_age` 0 removes it).
pub fn login_cookie_header(token: &str, secure: bool, max_age: u32) -> HeaderValue {
    super::cookies::set(LOGIN_COOKIE, token, "/", "Strict", secure, max_age)
}

/// Whether the request says it comes from a page of another origin: an `Origin` that is
/// neither the console's public URL (`public`, as users reach it through a proxy) nor the
/// `Host` the request was sent to, or `null`. No `Origin` at all: not said, so not refused
/// here (the token still must match).
pub fn cross_origin(headers: &HeaderMap, public: Option<&str>) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if public.is_some_and(|p| p.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return false;
    }
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    origin_host.is_empty() || !origin_host.eq_ignore_ascii_case(host)
}

/// Why a request's token was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejected {
    Missing,
    Wrong,
    BodyTooLarge,
}

/// Checks the token the request carries against `expected`, buffering the body when the
/// token may be in it; returns the request rebuilt with its body intact.
pub async fn check(req: Request<Body>, expected: &str) -> Result<Request<Body>, Rejected> {
    if let Some(v) = req.headers().get(CSRF_HEADER) {
        let ok = v.to_str().map(|v| same(v, expected)).unwrap_or(false);
        return if ok { Ok(req) } else { Err(Rejected::Wrong) };
    }
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| Rejected::BodyTooLarge)?;
    let found = if content_type.starts_with("application/x-www-form-urlencoded") {
        form_field(&bytes, CSRF_FIELD)
    } else if content_type.starts_with("application/json") {
        serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get(CSRF_FIELD)?.as_str().map(str::to_owned))
    } else {
        None
    };
    match found {
        None => Err(Rejected::Missing),
        Some(t) if same(&t, expected) => Ok(Request::from_parts(parts, Body::from(bytes))),
        Some(_) => Err(Rejected::Wrong),
    }
}

/// The first value of `name` in an `application/x-www-form-urlencoded` body.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::COOKIE;

    #[test]
    fn compares_whole_tokens_only() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
        assert!(!same("", "a"));
    }

    #[test]
    fn finds_the_field_in_a_form_body() {
        let body = b"a=1&csrf=t%2Fo+k&csrf=second&b=%ZZ";
        assert_eq!(form_field(body, "csrf").as_deref(), Some("t/o k"));
        assert_eq!(form_field(body, "b").as_deref(), Some("%ZZ"));
        assert_eq!(form_field(body, "none"), None);
        assert_eq!(form_field(b"x=%4", "x").as_deref(), Some("%4"));
    }

    #[test]
    fn reads_the_login_cookie_and_origin() {
        let tok = "a".repeat(64);
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_str(&format!("x=1; {LOGIN_COOKIE}={tok}")).unwrap(),
        );
        assert_eq!(login_cookie(&h), Some(tok));
        h.insert(
            COOKIE,
            HeaderValue::from_static("switchyard_login_csrf=short"),
        );
        assert_eq!(login_cookie(&h), None);
        h.insert(HOST, HeaderValue::from_static("console:3000"));
        assert!(!cross_origin(&h, None), "no Origin");
        h.insert(ORIGIN, HeaderValue::from_static("http://console:3000"));
        assert!(!cross_origin(&h, None));
        h.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(cross_origin(&h, None));
        h.insert(ORIGIN, HeaderValue::from_static("null"));
        assert!(cross_origin(&h, None));
        // Behind a proxy that rewrites Host: the public URL is the page's origin.
        h.insert(
            ORIGIN,
            HeaderValue::from_static("https://console.example.com"),
        );
        assert!(cross_origin(&h, None));
        assert!(!cross_origin(&h, Some("https://console.example.com/")));
        assert!(cross_origin(&h, Some("https://other.example.com")));
    }

    #[tokio::test]
    async fn checks_header_form_and_json_tokens() {
        let req = |ct: &str, body: &'static str| {
            Request::post("/api/ops/x")
                .header(CONTENT_TYPE, ct)
                .body(Body::from(body))
                .unwrap()
        };
        let form = "application/x-www-form-urlencoded";
        assert!(check(req(form, "csrf=tok&id=1"), "tok").await.is_ok());
        assert_eq!(
            check(req(form, "id=1"), "tok").await.err(),
            Some(Rejected::Missing)
        );
        assert_eq!(
            check(req(form, "csrf=bad"), "tok").await.err(),
            Some(Rejected::Wrong)
        );
        assert!(check(req("application/json", r#"{"csrf":"tok"}"#), "tok")
            .await
            .is_ok());
        let with_header = Request::post("/x")
            .header(CSRF_HEADER, "tok")
            .body(Body::empty())
            .unwrap();
        assert!(check(with_header, "tok").await.is_ok());
        // The body survives the check byte for byte.
        let ok = check(req(form, "csrf=tok&id=1"), "tok").await.unwrap();
        let body = to_bytes(ok.into_body(), 100).await.unwrap();
        assert_eq!(&body[..], b"csrf=tok&id=1");
    }
}
