//! The load the soak keeps on the console on top of the fleet's own traffic, and what it
//! measures of it: probe orders timed from the producer to the open push stream (the
//! push-bench's probe and stream reader, `push_bench::read_stream`), page loads at a steady
//! pace, and a replay job of the pending dead letters every few minutes through the dead
//! letter page's own endpoint. Each driver adds to a [`Tally`] that the sampler takes.

use crate::push_bench::{read_stream, Probes, PAGES};
use rand::SeedableRng;
use serde_json::json;
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchyard_contract::{kafka, Envelope};
use switchyard_fleet::orders::new_order;
use tokio::sync::watch;

/// The pages the soak loads, in turn: push-bench's list, then the fleet's latest order.
pub const PAGE_NAMES: [&str; PAGES.len() + 1] = [
    PAGES[0],
    PAGES[1],
    PAGES[2],
    PAGES[3],
    PAGES[4],
    "/orders/<latest>",
];

/// What the drivers measured since the sampler last took it.
#[derive(Default)]
pub struct Tally {
    pub page_ms: Vec<f64>,
    /// Which page each of `page_ms` was (index into [`PAGE_NAMES`]).
    pub page_kind: Vec<usize>,
    pub page_errors: usize,
    pub replays_started: usize,
    pub replays_refused: usize,
    pub replays_skipped: usize,
    pub stream_opens: usize,
}

pub type Shared = Arc<Mutex<Tally>>;

/// The drivers' shared state: probes in flight and their measured latencies.
#[derive(Clone, Default)]
pub struct Push {
    pub probes: Probes,
    pub latencies: Arc<Mutex<Vec<f64>>>,
}

impl Push {
    /// Takes the latencies measured so far, and gives up on the probes older than `timeout`
    /// (returned as lost).
    pub fn take(&self, timeout: Duration) -> (Vec<f64>, usize) {
        let lost = {
            let mut probes = self.probes.lock().expect("probes");
            let before = probes.len();
            probes.retain(|_, at| at.elapsed() < timeout);
            before - probes.len()
        };
        let ms = std::mem::take(&mut *self.latencies.lock().expect("latencies"));
        (ms, lost)
    }
}

/// Keeps `/api/live` open, reading probe arrivals; reopens it when it ends (a restart of
/// the console's stream, a session check) until `stop`.
pub async fn stream(
    http: reqwest::Client,
    base: String,
    push: Push,
    tally: Shared,
    run_for: Duration,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let opened = http
            .get(format!("{base}/api/live"))
            .header("accept", "text/event-stream")
            .timeout(run_for + Duration::from_secs(600))
            .send()
            .await;
        match opened {
            Ok(resp) if resp.status().is_success() => {
                tally.lock().expect("tally").stream_opens += 1;
                let reading = read_stream(resp, push.probes.clone(), push.latencies.clone());
                tokio::select! {
                    r = reading => {
                        if let Err(e) = r {
                            eprintln!("soak: push stream ended: {e}");
                        }
                    }
                    _ = stop.changed() => break,
                }
            }
            Ok(resp) => eprintln!("soak: /api/live answered {}", resp.status()),
            Err(e) => eprintln!("soak: /api/live: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Produces probe orders at `per_sec`: each an `order.created` under a fresh id, timed from
/// here to its order's message on the push stream, then an `order.cancelled` so the probe
/// is a finished order that retention removes like any other.
pub async fn probes(
    brokers: String,
    run_id: String,
    per_sec: f64,
    push: Push,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let producer = kafka::renewing::RenewingProducer::new(&brokers)?;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_sec.max(0.01)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Not the thread-local generator: this task moves between threads.
    let mut rng = rand::rngs::StdRng::from_os_rng();
    for n in 0u64.. {
        tokio::select! {
            _ = tick.tick() => {},
            _ = stop.changed() => break,
        }
        let id = format!("ORD-SOAK-{run_id}-{n:07}");
        let created = new_order(&id, &mut rng);
        let cancelled = Envelope::new(
            "order.cancelled",
            &id,
            "order-service",
            json!({"order_id": id, "reason": "soak probe"}),
        );
        push.probes
            .lock()
            .expect("probes")
            .insert(id, Instant::now());
        let p = producer.clone();
        tokio::spawn(async move {
            if let Err(e) = p.publish(&created).await {
                eprintln!("soak: probe not produced: {e}");
                return;
            }
            if let Err(e) = p.publish(&cancelled).await {
                eprintln!("soak: probe cancellation not produced: {e}");
            }
        });
    }
    Ok(())
}

/// Loads the pages in turn, one every `every`: the push-bench's list (overview, orders,
/// breakers, dead letters, failed orders) and the page of the fleet's latest order.
pub async fn pages(
    http: reqwest::Client,
    base: String,
    pool: PgPool,
    every: Duration,
    tally: Shared,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut order: Option<String> = None;
    for i in 0usize.. {
        tokio::select! {
            _ = tick.tick() => {},
            _ = stop.changed() => break,
        }
        let k = i % (PAGES.len() + 1);
        let path = if k < PAGES.len() {
            PAGES[k].to_string()
        } else {
            // A different order each round: the latest the fleet touched.
            order = sqlx::query_scalar::<_, String>(
                "SELECT order_id FROM orders WHERE order_id NOT LIKE 'ORD-SOAK-%'
                 ORDER BY updated_at DESC LIMIT 1",
            )
            .fetch_optional(&pool)
            .await
            .ok()
            .flatten()
            .or(order);
            match &order {
                Some(id) => switchyard_app::ops::order_href(id),
                None => continue,
            }
        };
        let t = Instant::now();
        let ok = match http.get(format!("{base}{path}")).send().await {
            Ok(resp) => resp.status() == 200 && resp.bytes().await.is_ok(),
            Err(_) => false,
        };
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let mut t = tally.lock().expect("tally");
        if ok {
            t.page_ms.push(ms);
            t.page_kind.push(k);
        } else {
            t.page_errors += 1;
            eprintln!("soak: GET {path} failed");
        }
    }
}

/// Every `every`, a replay job of all pending dead letters, started as the dead-letter
/// page's form starts one (operator session, CSRF token, `/api/ops/dlq/replay-job`). Skipped
/// when nothing is pending (the console refuses an empty job).
pub async fn replays(
    http: reqwest::Client,
    base: String,
    pool: PgPool,
    every: Duration,
    tally: Shared,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {},
            _ = stop.changed() => break,
        }
        let pending: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM dead_letters WHERE status = 'pending')",
        )
        .fetch_one(&pool)
        .await
        .unwrap_or(false);
        if !pending {
            tally.lock().expect("tally").replays_skipped += 1;
            continue;
        }
        match start_replay_job(&http, &base).await {
            Ok(()) => tally.lock().expect("tally").replays_started += 1,
            Err(e) => {
                eprintln!("soak: replay job not started: {e}");
                tally.lock().expect("tally").replays_refused += 1;
            }
        }
    }
}

async fn start_replay_job(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let page = http
        .get(format!("{base}/dead-letters"))
        .send()
        .await?
        .text()
        .await?;
    let csrf = crate::page_bench::csrf_in(&page)
        .ok_or_else(|| anyhow::anyhow!("no CSRF token on /dead-letters (signed out?)"))?;
    let resp = http
        .post(format!("{base}/api/ops/dlq/replay-job"))
        .header("referer", format!("{base}/dead-letters"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("scope", "filter"),
            ("throttle", "0"),
        ])
        .send()
        .await?;
    let status = resp.status();
    anyhow::ensure!(
        status.is_success() || status.is_redirection(),
        "/api/ops/dlq/replay-job answered {status}: {}",
        resp.text().await.unwrap_or_default()
    );
    Ok(())
}
