//! `switchyard-tools push-bench`: how long an event takes from being produced to being pushed to
//! an open page, under load — issue 8's "event produced → visible on an open page".
//!
//! Against a running console (with ingest) and its broker: signs in, opens the same
//! server-sent event stream the pages read (`/api/live`), produces the realistic mix at a
//! fixed rate and, riding inside that load every 20 ms, probe orders — one `order.created`
//! each, under a fresh id. A probe's latency is from handing it to the producer to its
//! `order` message arriving on the stream. What the browser adds after that (parse one
//! JSON object, patch one table row) is not in the figure; it is well under a millisecond.
//!
//! Meanwhile a second signed-in client loads the pages one after another (issue 9's "HTTP
//! load on the pages while ingesting"); at the end the run prints their latency
//! percentiles, the largest ingest lag `/metrics` reported, and the console's resident
//! memory (`--server-pid`).

use crate::synthetic::{produce, Synthetic};
use anyhow::{bail, Context};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchyard_contract::kafka;
use switchyard_contract::publish;
use switchyard_fleet::orders::new_order;

pub struct PushBenchArgs {
    pub base: String,
    pub user: String,
    pub password: String,
    pub brokers: String,
    /// Records per second of background load (the realistic mix).
    pub rate: u32,
    pub secs: u32,
    /// The console's process id, for its resident memory.
    pub server_pid: Option<u32>,
}

pub(crate) const PAGES: [&str; 5] = [
    "/",
    "/orders",
    "/breakers",
    "/dead-letters",
    "/orders?status=failed",
];

/// Loads the pages in turn until `stop`, recording (page, ms) for each full response.
async fn load_pages(
    http: reqwest::Client,
    base: String,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Vec<(usize, f64)>> {
    let mut out = Vec::new();
    for i in 0.. {
        if *stop.borrow() {
            break;
        }
        let page = i % PAGES.len();
        let t = Instant::now();
        let resp = http.get(format!("{base}{}", PAGES[page])).send().await?;
        let status = resp.status();
        resp.bytes().await?;
        if !status.is_success() {
            bail!("GET {} answered {status}", PAGES[page]);
        }
        out.push((page, t.elapsed().as_secs_f64() * 1000.0));
    }
    Ok(out)
}

/// Ingest lag as `/metrics` shows it now: the largest partition's and the sum over
/// partitions (`switchyard_ingest_lag`, records).
pub(crate) struct IngestLag {
    pub max: i64,
    pub sum: i64,
}

pub(crate) async fn ingest_lag(http: &reqwest::Client, base: &str) -> anyhow::Result<IngestLag> {
    let resp = http.get(format!("{base}/metrics")).send().await?;
    if !resp.status().is_success() {
        bail!("/metrics answered {}", resp.status());
    }
    let text = resp.text().await?;
    let values: Vec<i64> = text
        .lines()
        .filter(|l| l.starts_with("switchyard_ingest_lag{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<i64>().ok())
        .collect();
    Ok(IngestLag {
        max: values.iter().copied().max().unwrap_or(0),
        sum: values.iter().sum(),
    })
}

/// Resident set size of a process, in MiB (Linux).
pub(crate) fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Probe order id → when it was handed to the producer.
pub(crate) type Probes = Arc<Mutex<HashMap<String, Instant>>>;

/// Reads `order` messages off the stream and records each probe's latency once.
pub(crate) async fn read_stream(
    resp: reqwest::Response,
    probes: Probes,
    latencies: Arc<Mutex<Vec<f64>>>,
) -> anyhow::Result<()> {
    let mut body = resp.bytes_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = body.next().await {
        let arrived = Instant::now();
        buf.extend_from_slice(&chunk?);
        // SSE messages end with a blank line.
        while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
            let message: Vec<u8> = buf.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&message);
            let Some(data) = text.lines().find_map(|l| l.strip_prefix("data:")) else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(data.trim()) else {
                continue;
            };
            let Some(id) = v.get("order_id").and_then(|i| i.as_str()) else {
                continue;
            };
            let sent = probes.lock().expect("probes").remove(id);
            if let Some(at) = sent {
                let ms = arrived.duration_since(at).as_secs_f64() * 1000.0;
                latencies.lock().expect("latencies").push(ms);
            }
        }
    }
    Ok(())
}

pub async fn run(args: PushBenchArgs) -> anyhow::Result<()> {
    let http = crate::page_bench::sign_in(&args.base, &args.user, &args.password).await?;
    let producer = kafka::producer(&args.brokers)?;
    let resp = http
        .get(format!("{}/api/live", args.base))
        .header("accept", "text/event-stream")
        .timeout(Duration::from_secs(args.secs as u64 + 60))
        .send()
        .await
        .context("open /api/live")?;
    if !resp.status().is_success() {
        bail!("/api/live answered {}", resp.status());
    }
    let probes: Probes = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let reader = tokio::spawn(read_stream(resp, probes.clone(), latencies.clone()));
    let pages_http = crate::page_bench::sign_in(&args.base, &args.user, &args.password).await?;
    let (stop_pages, stop_rx) = tokio::sync::watch::channel(false);
    let pages = tokio::spawn(load_pages(pages_http, args.base.clone(), stop_rx));
    let mut lag_max = 0i64;
    let mut rss_max = 0f64;

    let run_id = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let mut gen = Synthetic::new(7, &format!("PB{}", run_id.to_uppercase()));
    let per_tick = (args.rate as usize / 20).max(1);
    let ticks = args.secs.max(1) as usize * 20;
    let started = Instant::now();
    let mut produced = 0usize;
    let mut sent_probes = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut rng = rand::rng();
    let mut pending_probes = Vec::new();
    for t in 0..ticks {
        tick.tick().await;
        let batch = gen.records(per_tick);
        produced += batch.len();
        let p = producer.clone();
        let load = tokio::spawn(async move { produce(&p, &batch).await });
        // Two probes per 50 ms tick, 25 ms apart, inside the load.
        for k in 0..2 {
            if k == 1 {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            let id = format!("ORD-PUSH-{run_id}-{sent_probes:06}");
            let event = new_order(&id, &mut rng);
            probes.lock().expect("probes").insert(id, Instant::now());
            let p = producer.clone();
            pending_probes.push(tokio::spawn(async move { publish(&p, &event).await }));
            sent_probes += 1;
        }
        pending_probes.retain(|h| !h.is_finished());
        load.await??;
        if t % 20 == 19 {
            // About once a second: the console's lag and memory.
            lag_max = lag_max.max(ingest_lag(&http, &args.base).await.map_or(0, |l| l.max));
            if let Some(m) = args.server_pid.and_then(rss_mib) {
                rss_max = rss_max.max(m);
            }
        }
    }
    let load_secs = started.elapsed().as_secs_f64();
    for h in pending_probes {
        h.await??;
    }
    // Stragglers: wait until every probe arrived, or 10 s.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !probes.lock().expect("probes").is_empty() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    reader.abort();
    stop_pages.send(true)?;
    let page_times = pages.await??;
    let missing = probes.lock().expect("probes").len();
    let mut l = latencies.lock().expect("latencies").clone();
    if l.is_empty() {
        bail!("no probe arrived on the push stream (is ingest running in the console?)");
    }
    l.sort_by(f64::total_cmp);
    let pct = |p: f64| crate::page_bench::pct(&l, p);
    println!(
        "push-bench: {produced} records of load at {:.0} records/s for {load_secs:.1} s, {sent_probes} probes",
        (produced + sent_probes) as f64 / load_secs
    );
    println!(
        "produced -> pushed on /api/live: p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} probes seen, {missing} missing after 10 s)",
        pct(50.0),
        pct(95.0),
        pct(99.0),
        l[l.len() - 1],
        l.len()
    );
    println!("pages loaded meanwhile (one client, back to back):");
    println!("| page | loads | p50 ms | p95 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    for (i, page) in PAGES.iter().enumerate() {
        let mut ms: Vec<f64> = page_times
            .iter()
            .filter(|t| t.0 == i)
            .map(|t| t.1)
            .collect();
        if ms.is_empty() {
            continue;
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "| `{page}` | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            ms.len(),
            crate::page_bench::pct(&ms, 50.0),
            crate::page_bench::pct(&ms, 95.0),
            crate::page_bench::pct(&ms, 99.0),
            ms[ms.len() - 1]
        );
    }
    println!(
        "ingest lag (largest partition, sampled each second from /metrics): max {lag_max} records"
    );
    if args.server_pid.is_some() {
        println!("console resident memory: max {rss_max:.0} MiB");
    }
    if missing > 0 {
        bail!("{missing} probes never arrived on the push stream");
    }
    Ok(())
}
