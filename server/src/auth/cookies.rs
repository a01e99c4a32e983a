//! The console's own small cookies — the sign-in form's token and single sign-on's pending
//! sign-in (the session cookie is tower-sessions') — read and written in one place, always
//! `HttpOnly`, `Secure` when the console is served over TLS.

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};

/// The value of cookie `name` the request carries (the first, if several; empty: none).
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: `value` under `name` for `path`, kept `max_age` seconds (0
/// removes it). `value` must be cookie-safe (hex, base64url).
pub fn set(
    name: &str,
    value: &str,
    path: &str,
    same_site: &str,
    secure: bool,
    max_age: u32,
) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}"
    ))
    .expect("a cookie-safe value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_cookie_among_several() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; b=2"));
        h.append(COOKIE, HeaderValue::from_static("c=; d=4"));
        assert_eq!(get(&h, "b"), Some("2"));
        assert_eq!(get(&h, "d"), Some("4"));
        assert_eq!(get(&h, "c"), None, "empty is none");
        assert_eq!(get(&h, "x"), None);
        let v = set("t", "ab", "/p", "Lax", true, 0);
        assert_eq!(
            v,
            "t=ab; Path=/p; HttpOnly; SameSite=Lax; Max-Age=0; Secure"
        );
    }
}
