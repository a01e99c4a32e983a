//! The notification service: tells the customer how their order ended. It reacts to
//! `order.completed` and `order.failed` and announces `notification.sent` (one per order
//! and outcome, whatever the redeliveries). `notification_poison_rate` makes that share of
//! messages fail every attempt, so the bus dead-letters them and there is something to
//! replay.

use super::bus::HandlerError;
use super::events::{emit, stable_id};
use super::runtime::{internal, Fleet, Service};
use serde_json::json;
use std::sync::Arc;
use switchyard_contract::Envelope;
use tokio::sync::watch;
use tokio::task::JoinHandle;

impl Fleet {
    pub(crate) fn run_notification(self: Arc<Self>, stop: watch::Receiver<bool>) -> JoinHandle<()> {
        let fleet = self.clone();
        let handler = move |env: Envelope| {
            let fleet = fleet.clone();
            async move {
                let rate = fleet
                    .faults
                    .read()
                    .unwrap()
                    .get("notification_poison_rate")
                    .clamp(0.0, 1.0);
                // Deterministic per event, so retries and replays of a poisoned message fail
                // alike until the fault is lowered.
                let roll = (env.id.as_u128() % 10_000) as f64 / 10_000.0;
                if roll < rate {
                    return Err(HandlerError::new(
                        "TemplateError",
                        "cannot render the e-mail template",
                    ));
                }
                let order_id = &env.aggregate_id;
                let kind = "notification.sent";
                emit(
                    &fleet.producer,
                    kind,
                    order_id,
                    &env.correlation_id,
                    &Service::Notification.group(),
                    stable_id(&format!("{order_id}/{kind}/{}", env.event_type)),
                    json!({"order_id": order_id, "channel": "email", "template": env.event_type}),
                )
                .await
                .map_err(internal)
            }
        };
        self.subscribe(
            Service::Notification,
            &["order.completed", "order.failed"],
            None,
            handler,
            stop,
        )
    }
}
