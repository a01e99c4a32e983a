//! `switchyard-tools soak`: issue 21's "run for months", compressed — against a running
//! system (console with ingest and a short retention window, fleet with chaos, broker;
//! `scripts/soak.sh` starts them), keep a realistic load on the console for `--minutes`
//! and sample it every `--sample-secs`, then say whether it stayed flat.
//!
//! The load besides the fleet's: probe orders timed to an open push stream, page loads,
//! a replay job every few minutes (`load`); with `--broker-retention-secs`, the broker's
//! log cut at an age as a cluster's retention would (`broker_log`). Each sample (`sample`) reads the resident memory
//! and open files of each watched process, the database and its largest tables, WAL
//! written, ingest lag, connections. At the end (or on Ctrl-C) it prints one table row per
//! sample and the verdict of the flatness rules (`report`), and writes `samples.csv`,
//! `tables.csv`, `report.md` and `soak.svg` (`plot`) to `--out`. Exits non-zero on FAIL.

mod broker_log;
mod load;
mod plot;
mod report;
mod sample;

pub use sample::{parse_watch, Setup, Watched};

use anyhow::Context;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub struct SoakArgs {
    pub base: String,
    pub user: String,
    pub password: String,
    pub brokers: String,
    pub database_url: String,
    pub minutes: f64,
    pub sample_secs: u64,
    pub out: PathBuf,
    pub setup: Setup,
    /// The first retention cycle, in seconds (see `report::Rules::warmup_secs`).
    pub warmup_secs: f64,
    pub replay_every_secs: u64,
    pub probes_per_sec: f64,
    pub page_every_ms: u64,
    /// A probe not pushed within this time is lost.
    pub probe_timeout_secs: u64,
    /// Cut the broker's log at this age (`broker_log`), for a broker that keeps everything.
    pub broker_retention: Option<Duration>,
}

pub async fn run(args: SoakArgs) -> anyhow::Result<()> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(3)
        .connect(&args.database_url)
        .await
        .context("connect to the console's database")?;
    let http = crate::page_bench::sign_in(&args.base, &args.user, &args.password).await?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("create {}", args.out.display()))?;
    let total = Duration::from_secs_f64(args.minutes.max(0.1) * 60.0);
    let mut rules = report::Rules::new(total.as_secs_f64(), args.warmup_secs);
    eprintln!(
        "soak: {:.0} min, a sample every {} s; judged after the first retention cycle ({:.0} s); latency reference: {}",
        args.minutes,
        args.sample_secs,
        args.warmup_secs,
        rules.reference_label()
    );

    // The size of the empty schema, before the load adds anything of its own.
    let mut start = sample::Sample::default();
    let mut wal = sample::read_database(&pool, &args.setup, &mut start, None, 1)
        .await
        .ok();
    rules.db_start_mib = start.db_mib();

    let (stop_tx, stop) = watch::channel(false);
    let tally: load::Shared = Default::default();
    let push = load::Push::default();
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase();
    let mut drivers = vec![
        tokio::spawn(load::stream(
            http.clone(),
            args.base.clone(),
            push.clone(),
            tally.clone(),
            total,
            stop.clone(),
        )),
        tokio::spawn(load::pages(
            http.clone(),
            args.base.clone(),
            pool.clone(),
            Duration::from_millis(args.page_every_ms.max(10)),
            tally.clone(),
            stop.clone(),
        )),
        tokio::spawn(load::replays(
            http.clone(),
            args.base.clone(),
            pool.clone(),
            Duration::from_secs(args.replay_every_secs.max(1)),
            tally.clone(),
            stop.clone(),
        )),
    ];
    if let Some(window) = args.broker_retention {
        drivers.push(tokio::spawn(broker_log::trim(
            args.brokers.clone(),
            window,
            stop.clone(),
        )));
    }
    let probes = tokio::spawn(load::probes(
        args.brokers.clone(),
        run_id,
        args.probes_per_sec,
        push.clone(),
        stop.clone(),
    ));

    // The clock starts once the pipeline is live (the first probe pushed): until then the
    // console's ingest is still joining its partitions, and its first probes would make
    // the latency reference a measure of start-up rather than of the first minutes.
    let settling = Instant::now();
    while push.latencies.lock().expect("latencies").is_empty()
        && settling.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "soak: pipeline live after {:.1} s; the clock starts now",
        settling.elapsed().as_secs_f64()
    );
    let _ = push.take(Duration::ZERO);
    {
        let mut t = tally.lock().expect("tally");
        *t = load::Tally {
            stream_opens: t.stream_opens,
            ..Default::default()
        };
    }
    let started = Instant::now();
    let probe_timeout = Duration::from_secs(args.probe_timeout_secs);
    let mut samples: Vec<sample::Sample> = Vec::new();
    let every = Duration::from_secs(args.sample_secs.max(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let interrupted = loop {
        tokio::select! {
            _ = tick.tick() => {},
            _ = tokio::signal::ctrl_c() => break true,
        }
        let mut s = sample::Sample {
            secs: started.elapsed().as_secs_f64(),
            ..Default::default()
        };
        (s.push_ms, s.push_lost) = push.take(probe_timeout);
        {
            let mut t = tally.lock().expect("tally");
            s.page_ms = std::mem::take(&mut t.page_ms);
            s.page_kind = std::mem::take(&mut t.page_kind);
            s.page_errors = std::mem::take(&mut t.page_errors);
            s.replays_started = std::mem::take(&mut t.replays_started);
            s.replays_refused = std::mem::take(&mut t.replays_refused);
        }
        sample::read_processes(&args.setup, &mut s);
        match sample::read_database(&pool, &args.setup, &mut s, wal, 8).await {
            Ok(w) => wal = Some(w),
            Err(e) => eprintln!("soak: database not sampled: {e}"),
        }
        s.lag = sample::read_lag(&http, &args.base).await;
        eprintln!("{}", progress(&args.setup, samples.last(), &s));
        samples.push(s);
        // Written as it goes: a run cut short still leaves its data.
        write(
            &args.out,
            "samples.csv",
            &report::samples_csv(&args.setup, &samples),
        )?;
        write(&args.out, "tables.csv", &report::tables_csv(&samples))?;
        if started.elapsed() + Duration::from_millis(500) >= total {
            break false;
        }
    };
    stop_tx.send(true)?;
    for d in drivers.drain(..) {
        let _ = tokio::time::timeout(Duration::from_secs(10), d).await;
    }
    if let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_secs(10), probes).await {
        eprintln!("soak: probe producer failed: {e}");
    }
    let jobs: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM replay_jobs GROUP BY 1 ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
    let t = tally.lock().expect("tally");
    let notes = format!(
        "push stream opened {} time(s); replay jobs skipped (nothing pending) {}; replay jobs kept now by status: {}",
        t.stream_opens,
        t.replays_skipped,
        if jobs.is_empty() {
            "none".into()
        } else {
            jobs.iter()
                .map(|(s, n)| format!("{s} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    drop(t);

    let table = report::table(&args.setup, &samples);
    let pages = report::pages_table(&samples, &load::PAGE_NAMES, &rules);
    let checks = report::verdict(&args.setup, &samples, &rules);
    let verdict = report::verdict_text(&checks);
    let svg = plot::svg(&args.setup, &samples, args.warmup_secs)?;
    write(&args.out, "soak.svg", &svg)?;
    let md = format!(
        "{table}\n{pages}\n{notes}\n{}\n```\n{verdict}```\n",
        if interrupted {
            "interrupted before the end (Ctrl-C)\n"
        } else {
            ""
        }
    );
    write(&args.out, "report.md", &md)?;
    println!("{table}");
    println!("{pages}");
    println!("{notes}");
    print!("{verdict}");
    println!(
        "wrote {}/{{samples.csv,tables.csv,report.md,soak.svg}}",
        args.out.display()
    );
    anyhow::ensure!(
        checks.iter().all(|c| c.pass),
        "soak failed {} of {} rules",
        checks.iter().filter(|c| !c.pass).count(),
        checks.len()
    );
    Ok(())
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> anyhow::Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))
}

/// One line per sample while the soak runs.
fn progress(setup: &Setup, previous: Option<&sample::Sample>, s: &sample::Sample) -> String {
    let rss: Vec<String> = setup
        .processes
        .iter()
        .zip(&s.rss_mib)
        .enumerate()
        .map(|(i, (p, r))| {
            let cpu = previous
                .and_then(|e| sample::cpu_percent(e, s, i))
                .map_or(String::new(), |c| format!(" {c:.0}% cpu"));
            format!(
                "{} {}{cpu}",
                p.name,
                r.map_or("gone".into(), |r| format!("{r:.0} MiB"))
            )
        })
        .collect();
    format!(
        "soak {:>6.1} min: {}; db {:.1} MiB; lag {}; push p99 {} ms ({} probes, {} lost); page p95 {} ms ({} loads, {} failed); pg conns {}",
        s.secs / 60.0,
        rss.join(", "),
        s.db_mib(),
        s.lag.map_or("-".into(), |l| l.to_string()),
        report::percentile(&s.push_ms, 99.0).map_or("-".into(), |v| format!("{v:.0}")),
        s.push_ms.len(),
        s.push_lost,
        report::percentile(&s.page_ms, 95.0).map_or("-".into(), |v| format!("{v:.1}")),
        s.page_ms.len(),
        s.page_errors,
        s.pg_connections
    )
}
