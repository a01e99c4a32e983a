//! A producer that replaces itself after a fatal error.
//!
//! Switchyard's producers are idempotent (`enable.idempotence`, see [`super::producer`]):
//! the broker keeps, per producer id and partition, the sequence number of the last batch
//! it appended, and refuses a batch out of that sequence. When the two disagree — the
//! broker lost or never had that state (a partition led by a replica that had not caught
//! up, a broker restarted on memory storage, a broker's bug) — librdkafka raises a
//! **fatal** error: from then on that instance fails every send with `Fatal`, for ever.
//! The 50-minute soak saw it ("out of order sequence number … sequence desynchronization
//! with broker"): the fleet's producer went fatal at minute 25 and the fleet kept
//! "running" without producing one event. Whatever the broker's side of it, a producer
//! that stays dead is ours to fix.
//!
//! librdkafka's answer to a fatal error is a new producer instance, and that is what
//! [`RenewingProducer`] does: whoever sees a send fail calls [`RenewingProducer::renew_if_fatal`]
//! (the `publish` helpers do it themselves); if the current instance is fatal it is replaced
//! once — whoever comes second finds a healthy one — and the replacement is logged with
//! librdkafka's reason. The failed send is still an error to its caller (the record may or
//! may not have been appended: a retry may duplicate it, which the fleet's handlers and the
//! console's ingest tolerate by event id).

use crate::Envelope;
use rdkafka::producer::{FutureProducer, Producer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A cheap-to-clone handle on the current producer of one process (or one part of it).
#[derive(Clone)]
pub struct RenewingProducer {
    brokers: Arc<str>,
    current: Arc<Mutex<FutureProducer>>,
    renewals: Arc<AtomicU64>,
}

impl RenewingProducer {
    /// A producer for `brokers`, configured as [`super::producer`].
    pub fn new(brokers: &str) -> anyhow::Result<Self> {
        Ok(RenewingProducer {
            brokers: brokers.into(),
            current: Arc::new(Mutex::new(super::producer(brokers)?)),
            renewals: Arc::default(),
        })
    }

    /// The current producer instance (a clone of an `Arc`): use it for one send, and call
    /// [`Self::renew_if_fatal`] when the send fails.
    pub fn get(&self) -> FutureProducer {
        self.lock().clone()
    }

    /// How many times the producer was replaced since this handle was made.
    pub fn renewals(&self) -> u64 {
        self.renewals.load(Ordering::Relaxed)
    }

    /// Replaces the current instance if librdkafka has declared it fatal. True if it did.
    pub fn renew_if_fatal(&self) -> bool {
        let mut current = self.lock();
        let Some((code, reason)) = current.client().fatal_error() else {
            return false;
        };
        let fresh = match super::producer(&self.brokers) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, fatal = %reason, "Kafka producer is fatal and a new one cannot be made");
                return false;
            }
        };
        let old = std::mem::replace(&mut *current, fresh);
        drop(current);
        let n = self.renewals.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::error!(code = ?code, reason = %reason, renewals = n,
            "Kafka producer hit a fatal error (every later send on it would fail); replaced it with a new one");
        // Dropping a producer purges and flushes its queue, which may wait: not here.
        let _ = std::thread::Builder::new()
            .name("drop fatal producer".into())
            .spawn(move || drop(old));
        true
    }

    /// [`crate::publish`] on the current instance, renewing it if the send found it fatal.
    pub async fn publish(&self, env: &Envelope) -> anyhow::Result<(i32, i64)> {
        self.renewed_on_error(crate::publish(&self.get(), env).await)
    }

    /// [`crate::publish_raw`] on the current instance, renewing it if the send found it fatal.
    pub async fn publish_raw(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: &[u8],
    ) -> anyhow::Result<(i32, i64)> {
        self.renewed_on_error(crate::publish_raw(&self.get(), topic, key, value).await)
    }

    /// A send's outcome, after renewing the producer if it failed on a fatal one.
    fn renewed_on_error<T>(&self, sent: anyhow::Result<T>) -> anyhow::Result<T> {
        if sent.is_err() {
            self.renew_if_fatal();
        }
        sent
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FutureProducer> {
        // A panic while holding the lock cannot leave the producer half-replaced.
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}
