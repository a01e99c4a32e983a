//! `/healthz`: the process answers. `/readyz`: PostgreSQL and the Kafka broker answer too,
//! so a load balancer sends traffic only to an instance that can serve it. When Kafka
//! does not answer, the reason is the cause librdkafka named (`kafka::diagnosis`).
//!
//! `/readyz` is public (probes carry no session), so its answer is shared: one check at a
//! time, reused for a second ([`Readiness`]); a flood of probes costs one query and one
//! metadata request per second, not one per call.

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use rdkafka::producer::Producer;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_contract::kafka::diagnosis;
use tokio::sync::Mutex;

pub async fn healthz() -> &'static str {
    "ok"
}

/// The last readiness answer and when it was made.
#[derive(Clone, Default)]
pub struct Readiness(Arc<Mutex<Option<(Instant, StatusCode, Value)>>>);

/// How long one answer is reused.
const REUSE: Duration = Duration::from_secs(1);

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut last = state.ready.0.lock().await;
    if let Some((at, code, body)) = last.as_ref() {
        if at.elapsed() < REUSE {
            return (*code, Json(body.clone()));
        }
    }
    let (code, body) = check(&state).await;
    *last = Some((Instant::now(), code, body.clone()));
    (code, Json(body))
}

async fn check(state: &AppState) -> (StatusCode, Value) {
    let db = sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&state.pool)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    let producer = state.kafka.clone();
    let broker = tokio::task::spawn_blocking(move || {
        producer
            .client()
            .fetch_metadata(None, Duration::from_secs(2))
            .map(|m| m.brokers().len())
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    // librdkafka's own error ("BrokerTransportFailure") does not say why; the cause its
    // log named (a wrong password, an untrusted certificate) does.
    let broker = match broker {
        Ok(n) => {
            diagnosis::clear_problem();
            Ok(n)
        }
        Err(e) => Err(diagnosis::current_problem().unwrap_or(format!("Kafka: {e}"))),
    };
    let ready = db.is_ok() && broker.is_ok();
    let body = json!({
        "ready": ready,
        "database": db.err().unwrap_or_else(|| "ok".into()),
        "kafka": broker.map(|n| format!("ok ({n} brokers)")).unwrap_or_else(|e| e),
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, body)
}
