//! A realistic, reproducible event mix for benchmarks and fault tests: the records a busy
//! order pipeline writes — each order's domain events and saga steps (about one in ten
//! fails at payment and is compensated), breaker transitions and metrics, dead letters in
//! the fleet's dialect, and a sprinkle of malformed records.
//!
//! Records are generated as (topic, key, value, headers), ready to publish, so the same
//! stream can go to Kafka (the pipeline) or straight into PostgreSQL (the COPY baseline).

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;
use std::time::Duration;
use switchyard::ingest::decode::RawRecord;
use switchyard_contract::Envelope;

/// One record to publish.
#[derive(Clone, Debug)]
pub struct Record {
    pub topic: String,
    pub key: Option<String>,
    pub value: Vec<u8>,
    pub headers: Vec<(String, String)>,
    /// The event's own time (when a live run publishes it).
    pub at: DateTime<Utc>,
}

impl Record {
    /// The record as ingest would read it at this position.
    pub fn raw(&self, partition: i32, offset: i64) -> RawRecord {
        RawRecord {
            topic: self.topic.clone(),
            partition,
            offset,
            key: self.key.clone().map(String::into_bytes),
            value: Some(self.value.clone()),
            headers: self
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone().into_bytes())))
                .collect(),
            timestamp_ms: None,
        }
    }

    fn event(env: &Envelope) -> Record {
        Record {
            topic: env.event_type.clone(),
            key: Some(env.aggregate_id.clone()),
            value: serde_json::to_vec(env).expect("envelope serialises"),
            headers: env
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            at: env.occurred_at,
        }
    }
}

/// Publishes records with many sends in flight (for throughput); fails on the first
/// record the broker refuses.
pub async fn produce(producer: &FutureProducer, records: &[Record]) -> anyhow::Result<()> {
    for chunk in records.chunks(10_000) {
        let mut sends = Vec::with_capacity(chunk.len());
        for r in chunk {
            let mut headers = OwnedHeaders::new();
            for (k, v) in &r.headers {
                headers = headers.insert(Header {
                    key: k,
                    value: Some(v.as_bytes()),
                });
            }
            let mut rec = FutureRecord::<str, [u8]>::to(&r.topic)
                .payload(&r.value)
                .headers(headers);
            if let Some(k) = &r.key {
                rec = rec.key(k.as_str());
            }
            sends.push(producer.send(rec, Duration::from_secs(60)));
        }
        for r in futures::future::join_all(sends).await {
            r.map_err(|(e, _)| anyhow::anyhow!("produce: {e}"))?;
        }
    }
    Ok(())
}

/// Generates orders one at a time; `records(n)` yields about `n` records.
pub struct Synthetic {
    rng: StdRng,
    clock: DateTime<Utc>,
    next_order: u64,
    prefix: String,
}

impl Synthetic {
    /// `prefix` keeps order ids of different runs apart.
    pub fn new(seed: u64, prefix: &str) -> Self {
        Synthetic {
            rng: StdRng::seed_from_u64(seed),
            clock: Utc::now(),
            next_order: 0,
            prefix: prefix.to_string(),
        }
    }

    fn tick(&mut self) -> DateTime<Utc> {
        self.clock += TimeDelta::milliseconds(self.rng.random_range(1..20));
        self.clock
    }

    fn env(&mut self, kind: &str, id: &str, corr: &str, data: serde_json::Value) -> Envelope {
        let mut e = Envelope::new(kind, id, kind.split('.').next().unwrap_or("fleet"), data);
        e.occurred_at = self.tick();
        e.correlation_id = corr.to_string();
        e
    }

    fn step(
        &mut self,
        id: &str,
        step: &str,
        action: &str,
        status: &str,
        err: Option<&str>,
    ) -> Envelope {
        let mut data = json!({"saga_id": format!("SAGA-{id}"), "order_id": id, "step": step,
            "action": action, "status": status, "attempt": 1});
        if let Some(e) = err {
            data["error"] = json!(e);
        }
        let mut env = self.env("saga.step", id, id, data);
        env.data["at"] = json!(env.occurred_at.to_rfc3339());
        env
    }

    /// The records of one order (and, now and then, a breaker event, a dead letter or a
    /// malformed record).
    pub fn order(&mut self) -> Vec<Record> {
        self.next_order += 1;
        let id = format!("ORD-{}{:08}", self.prefix, self.next_order);
        let mut out = Vec::with_capacity(14);
        let created = switchyard_fleet::orders::new_order(&id, &mut self.rng);
        let mut created = self.env("order.created", &id, &id, created.data);
        created.aggregate_version = Some(1);
        out.push(Record::event(&created));
        let fails = self.rng.random_bool(0.1);
        let steps = [
            self.step(&id, "inventory", "execute", "started", None),
            self.step(&id, "inventory", "execute", "succeeded", None),
            self.env("inventory.reserved", &id, &id, json!({"order_id": id})),
            self.step(&id, "payment", "execute", "started", None),
        ];
        out.extend(steps.iter().map(Record::event));
        if fails {
            let tail = [
                self.step(&id, "payment", "execute", "failed", Some("card declined")),
                self.env(
                    "payment.failed",
                    &id,
                    &id,
                    json!({"order_id": id, "reason": "card declined"}),
                ),
                self.step(&id, "inventory", "compensate", "succeeded", None),
                self.env("inventory.released", &id, &id, json!({"order_id": id})),
                self.env(
                    "order.failed",
                    &id,
                    &id,
                    json!({"reason": "payment declined"}),
                ),
            ];
            out.extend(tail.iter().map(Record::event));
        } else {
            let tail = [
                self.step(&id, "payment", "execute", "succeeded", None),
                self.env(
                    "payment.completed",
                    &id,
                    &id,
                    json!({"order_id": id, "payment_id": format!("PAY-{id}")}),
                ),
                self.step(&id, "shipment", "execute", "succeeded", None),
                self.env(
                    "shipment.created",
                    &id,
                    &id,
                    json!({"order_id": id, "tracking": format!("TRK-{id}")}),
                ),
                self.env("order.completed", &id, &id, json!({})),
                self.env(
                    "notification.sent",
                    &id,
                    &id,
                    json!({"order_id": id, "channel": "email"}),
                ),
            ];
            out.extend(tail.iter().map(Record::event));
        }
        let roll: f64 = self.rng.random();
        if roll < 0.02 {
            out.push(self.breaker_event());
        } else if roll < 0.04 {
            out.push(self.dead_letter(&id));
        } else if roll < 0.041 {
            out.push(Record {
                topic: "order.created".into(),
                key: Some(id.clone()),
                value: b"{not json".to_vec(),
                headers: vec![],
                at: self.clock,
            });
        }
        out
    }

    fn breaker_event(&mut self) -> Record {
        let (service, breaker) = [
            ("payment", "gateway"),
            ("inventory", "warehouse"),
            ("shipment", "carrier"),
        ][self.rng.random_range(0..3)];
        let at = self.clock.to_rfc3339();
        if self.rng.random_bool(0.5) {
            let calls = self.rng.random_range(10..200);
            let failures = self.rng.random_range(0..calls);
            let e = self.env(
                "breaker.metrics",
                service,
                service,
                json!({"service": service,
                "breaker": breaker, "calls": calls, "failures": failures, "slow": 0,
                "not_permitted": 0, "failure_rate": failures as f64 / calls as f64, "at": at}),
            );
            Record::event(&e)
        } else {
            let states = ["CLOSED", "OPEN", "HALF_OPEN"];
            let from = self.rng.random_range(0..3);
            let e = self.env(
                "breaker.transition",
                service,
                service,
                json!({"service": service,
                "breaker": breaker, "from": states[from], "to": states[(from + 1) % 3],
                "failure_count": 5, "success_count": 0, "failure_rate": 0.5, "at": at}),
            );
            Record::event(&e)
        }
    }

    fn dead_letter(&mut self, id: &str) -> Record {
        let original = self.env("payment.completed", id, id, json!({"order_id": id}));
        let mut r = Record::event(&original);
        r.topic = "payment.completed.dlq".into();
        let offset = self.rng.random_range(0..1_000_000).to_string();
        r.headers.extend([
            (
                "x-original-topic".to_string(),
                "payment.completed".to_string(),
            ),
            ("x-original-partition".to_string(), "0".to_string()),
            ("x-original-offset".to_string(), offset),
            (
                "x-exception-message".to_string(),
                "notification gateway timeout".to_string(),
            ),
            ("x-exception-type".to_string(), "Timeout".to_string()),
            ("x-failed-at".to_string(), self.clock.to_rfc3339()),
            ("x-attempts".to_string(), "3".to_string()),
        ]);
        r
    }

    /// At least `n` records (whole orders).
    pub fn records(&mut self, n: usize) -> Vec<Record> {
        let mut out = Vec::with_capacity(n + 16);
        while out.len() < n {
            out.extend(self.order());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard::ingest::decode::{decode, Decoded};
    use switchyard_contract::topic_selection::TopicSelection;

    #[test]
    fn the_mix_decodes_as_intended() {
        let records = Synthetic::new(7, "T").records(20_000);
        let (mut events, mut dead, mut bad) = (0, 0, 0);
        for (i, r) in records.iter().enumerate() {
            let raw = r.raw(0, i as i64);
            match decode(&raw, &TopicSelection::default_dead_letters()) {
                Decoded::Event(_) => events += 1,
                Decoded::DeadLetter(_) => dead += 1,
                Decoded::Quarantine(_) => bad += 1,
            }
        }
        assert!(events > 19_000, "{events}");
        assert!(dead > 5 && bad > 0, "dead {dead}, bad {bad}");
        // Same seed, same stream.
        let again = Synthetic::new(7, "T").records(100);
        assert_eq!(again[5].topic, records[5].topic);
    }
}
