//! One reading of the request path, for every layer. The auth policy matches the raw path
//! (`/pkg/` is public) while routers and file services decode it (`%2e%2e` is `..`), so a
//! path whose meaning changes with decoding could be public to one and the admin page to
//! the other. This layer, outside all others, refuses such paths with 400: a segment that
//! is `.` or `..` (also percent-encoded), a backslash, an empty segment or a control
//! character. An encoded `/` inside a segment stays part of that segment (an order id may
//! hold one): every router here splits the raw path, and the public prefixes are static
//! file services that never hand a request to the pages.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn refuse_ambiguous(req: Request, next: Next) -> Response {
    if let Err(why) = check(req.uri().path()) {
        crate::metrics::refused("ambiguous_path");
        return (StatusCode::BAD_REQUEST, format!("refused: {why}")).into_response();
    }
    next.run(req).await
}

/// `Err` with the reason when `path` does not mean one thing.
pub fn check(path: &str) -> Result<(), &'static str> {
    if path.contains('\\') {
        return Err("a backslash in the path");
    }
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, raw) in segments.iter().enumerate() {
        let decoded = percent_decode(raw.as_bytes());
        if decoded.iter().any(|b| b.is_ascii_control()) {
            return Err("a control character in the path");
        }
        if decoded == b"." || decoded == b".." {
            return Err("a dot segment in the path");
        }
        if raw.is_empty() && i != last {
            return Err("an empty segment in the path");
        }
    }
    Ok(())
}

fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn one_meaning_only() {
        for ok in [
            "/",
            "/orders",
            "/orders/",
            "/pkg/switchyard.wasm",
            "/dead-letters/a%20b",
            "/login",
            // An order id holding a slash: one segment, as every router here reads it.
            "/orders/ORD-%3Cscript%3E%3C%2Fscript%3E",
            "/orders/a%2F..%2Fb",
        ] {
            assert!(check(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/pkg/%2e%2e/admin",
            "/pkg/%2E%2e/admin",
            "/pkg/../admin",
            "/pkg/./x",
            "/pkg/.%2e/admin",
            "/pkg\\..\\admin",
            "//admin",
            "/pkg//x",
            "/a%00b",
            "/style/%2e",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
