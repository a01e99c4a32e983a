//! `/healthz`: the process answers. `/readyz`: PostgreSQL and the Kafka broker answer too,
//! so a load balancer sends traffic only to an instance that can serve it. When Kafka
//! does not answer, the reason is the cause librdkafka named (`kafka::diagnosis`).

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use rdkafka::producer::Producer;
use serde_json::{json, Value};
use std::time::Duration;
use switchyard_contract::kafka::diagnosis;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
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
    (code, Json(body))
}
