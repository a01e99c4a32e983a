//! What the two hosted-model clients share: the HTTP client, the mapping of HTTP statuses
//! to retryable or fatal errors (429/529/503 with `retry-after`), and reading a streamed
//! response as server-sent events.

use super::backend::BackendError;
use super::sse::{SseEvent, SseParser};
use futures::StreamExt;
use std::time::Duration;

/// The HTTP client for hosted models: rustls, a connect timeout; the agent loop bounds
/// each whole turn.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

/// `retry-after` in seconds (or `retry-after-ms`), when the server sent one.
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(ms) = h
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        return Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    h.get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|s| Duration::from_secs_f64(s.max(0.0)))
}

/// Whether a status is worth retrying: rate limits, overload, a busy gateway.
pub fn retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504 | 529)
}

/// Sends a request; a non-2xx answer becomes the matching error (body cut to 500 bytes).
pub async fn send(req: reqwest::RequestBuilder) -> Result<reqwest::Response, BackendError> {
    let resp = req.send().await.map_err(|e| BackendError::Retryable {
        message: format!("could not reach the model: {}", without_url(&e)),
        retry_after: None,
    })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let after = retry_after(resp.headers());
    let body = resp.text().await.unwrap_or_default();
    let body = super::agent::bound(body, 500);
    let message = format!("the model answered HTTP {}: {body}", status.as_u16());
    if retryable(status.as_u16()) {
        Err(BackendError::Retryable {
            message,
            retry_after: after,
        })
    } else {
        Err(BackendError::Fatal(message))
    }
}

/// A reqwest error without the URL (which may carry a query-string key on some servers).
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "<model url>");
    }
    s
}

/// Reads a streamed response, calling `on` for each server-sent event until it returns
/// `Ok(false)` or the stream ends.
pub async fn each_event(
    resp: reqwest::Response,
    mut on: impl FnMut(SseEvent) -> Result<bool, BackendError>,
) -> Result<(), BackendError> {
    let mut parser = SseParser::default();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| BackendError::Retryable {
            message: format!("the answer stream broke: {}", without_url(&e)),
            retry_after: None,
        })?;
        for ev in parser.push(&chunk) {
            if !on(ev)? {
                return Ok(());
            }
        }
    }
    for ev in parser.finish() {
        if !on(ev)? {
            return Ok(());
        }
    }
    Ok(())
}

/// Tool arguments as the model sent them: a JSON object (empty text means no arguments),
/// or the raw text when it is not one.
pub fn parse_arguments(raw: &str) -> Result<serde_json::Value, String> {
    if raw.trim().is_empty() {
        return Ok(serde_json::json!({}));
    }
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(raw.to_string()),
    }
}
