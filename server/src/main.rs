//! The `switchyard` command: the console server and its companion tools.

use clap::{Parser, Subcommand};
use leptos::prelude::LeptosOptions;
use std::sync::Arc;
use std::time::Duration;
use switchyard::assistant::Assistant;
use switchyard::auth::Auth;
use switchyard::config::{
    AssistantConfig, AuthConfig, Common, Db, Http, IngestConfig, ReplayConfig,
};
use switchyard::http::{router, AppState};
use switchyard::ingest::consumer::{self, IngestSettings};
use switchyard::kafka::{embedded::EmbeddedBroker, topics};
use switchyard::live::LiveHub;
use switchyard::ops::PgOps;
use switchyard::replay::api::PgDeadLetters;
use switchyard::{contract, db, fleet, kafka, telemetry};
use tokio::sync::watch;

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Operations console for event-driven microservices"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    db: Db,
    #[command(flatten)]
    http: Http,
    #[command(flatten)]
    ingest: IngestConfig,
    #[command(flatten)]
    replay: ReplayConfig,
    #[command(flatten)]
    auth: AuthConfig,
    #[command(flatten)]
    assistant: AssistantConfig,
    /// Serve only; leave ingest to other instances.
    #[arg(long)]
    no_ingest: bool,
    /// Also run the fleet in this process (with demo chaos: a payment outage of 15 s
    /// every minute) at this many new orders per second.
    #[arg(long, env = "SWITCHYARD_DEMO_RATE")]
    demo_rate: Option<f64>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the console: web UI, live push and Kafka ingest.
    Serve(Box<ServeArgs>),
    /// Run only the Kafka ingest (no web server).
    Ingest {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        ingest: IngestConfig,
    },
    /// Publish orders (or one raw record) to Kafka, then exit.
    Produce {
        #[command(flatten)]
        common: Common,
        /// How many `order.created` events to publish.
        #[arg(long, default_value_t = 1)]
        count: u64,
        /// Use this order id (only with --count 1).
        #[arg(long)]
        order_id: Option<String>,
        /// Publish these bytes as they are to `--topic` instead of orders.
        #[arg(long)]
        raw: Option<String>,
        #[arg(long, default_value = "order.created")]
        topic: String,
    },
    /// Manage console users: `user add --role admin <name>`, `user set`, `user list`.
    User {
        #[command(flatten)]
        db: Db,
        #[command(subcommand)]
        action: switchyard::auth::cli::UserAction,
    },
    /// Measure the ingest pipeline against a raw COPY of the same rows (see BENCHMARKS.md).
    IngestBench {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        db: Db,
        /// Records to produce and ingest.
        #[arg(long, default_value_t = 1_000_000)]
        records: usize,
        /// As `SWITCHYARD_BATCH_MAX`.
        #[arg(long, default_value_t = 10_000)]
        batch_max: usize,
        /// As `SWITCHYARD_BATCH_WAIT_MS`.
        #[arg(long, default_value_t = switchyard::config::DEFAULT_BATCH_WAIT_MS)]
        batch_wait_ms: u64,
        /// Write lanes (batches written side by side), as `SWITCHYARD_INGEST_LANES`.
        #[arg(long, default_value_t = 2)]
        lanes: usize,
        /// Records per second during the latency phase.
        #[arg(long, default_value_t = 5000)]
        latency_rate: u32,
        /// Length of the latency phase, in seconds.
        #[arg(long, default_value_t = 10)]
        latency_secs: u32,
    },
    /// Rebuild the projections from the event store and compare; exits 1 on a difference.
    Verify {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        db: Db,
    },
    /// Run the fleet: order, inventory, payment, shipment and notification services
    /// producing the event contract, talking only through Kafka.
    Fleet {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        db: Db,
        /// New orders per second (the order service's load generator).
        #[arg(long, default_value_t = 2.0)]
        rate: f64,
        /// Run only these services (repeatable or comma-separated): order, inventory,
        /// payment, shipment, notification, all.
        #[arg(long = "service", value_delimiter = ',', default_value = "all")]
        services: Vec<String>,
        /// How the order saga runs: orchestrated (the order service drives it) or
        /// choreographed (services react to each other's events).
        #[arg(long, default_value = "orchestrated")]
        mode: fleet::runtime::Mode,
        /// Take the payment gateway down for 15 s every 60 s.
        #[arg(long)]
        chaos: bool,
    },
    /// Set a fleet fault while it runs (`switchyard fault payment_outage 1`).
    Fault {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        db: Db,
        name: String,
        value: f64,
    },
    /// Replay one dead letter to its original topic (sent once, however often asked).
    Replay {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        db: Db,
        /// The dead letter's id (as shown in the console).
        id: i64,
        /// Who asks (stamped as `x-replayed-by` and kept with the replay).
        #[arg(long, env = "USER", default_value = "cli")]
        by: String,
        #[command(flatten)]
        replay: ReplayConfig,
    },
    /// Replay N dead letters as one unthrottled job and check the target topic for
    /// duplicates and losses (see BENCHMARKS.md).
    ReplayBench {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        db: Db,
        /// Dead letters to replay.
        #[arg(long, default_value_t = 10_000)]
        records: usize,
        /// Messages per batch.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Replay to this (existing, empty) topic instead of a fresh one.
        #[arg(long)]
        topic: Option<String>,
    },
    /// Run the assistant's evaluation set through the offline router: accuracy (right tool
    /// and arguments) and routing latency. Exits 1 below --min-accuracy.
    AssistantEval {
        /// The evaluation set (one JSON question per line).
        #[arg(long, default_value = "server/assistant-eval.jsonl")]
        file: std::path::PathBuf,
        #[command(flatten)]
        assistant: AssistantConfig,
        /// Route by rules alone, even if the embedding model is installed.
        #[arg(long)]
        rules_only: bool,
        #[arg(long, default_value_t = 0.95)]
        min_accuracy: f64,
    },
    /// Fill the read model with a large synthetic history (set-based SQL, no Kafka) for
    /// the page benchmark: orders with their events, saga steps, rollups, dead letters and
    /// breaker transitions, spread over the last `--hours`.
    Seed {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        db: Db,
        #[arg(long, default_value_t = 100_000)]
        orders: i64,
        /// 1..=99; the saga has ten, more are notifications, fewer stop it midway.
        #[arg(long, default_value_t = 10)]
        events_per_order: usize,
        #[arg(long, default_value_t = 24)]
        hours: i64,
        /// Orders per INSERT statement.
        #[arg(long, default_value_t = 50_000)]
        chunk: i64,
    },
    /// Time the console pages (signed-in GETs, server-rendered) against a running console.
    PageBench {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        db: Db,
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        base: String,
        #[arg(long, default_value = "bench")]
        user: String,
        #[arg(long, env = "SWITCHYARD_BENCH_PASSWORD")]
        password: String,
        /// Requests per page.
        #[arg(long, default_value_t = 100)]
        samples: usize,
    },
    /// Time event produced -> pushed to an open page (`/api/live`) under load, against a
    /// running console with ingest and its broker (`KAFKA_BROKERS`).
    PushBench {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        base: String,
        #[arg(long, default_value = "bench")]
        user: String,
        #[arg(long, env = "SWITCHYARD_BENCH_PASSWORD")]
        password: String,
        /// Background load, records per second (the realistic mix).
        #[arg(long, default_value_t = 5000)]
        rate: u32,
        /// How long to produce.
        #[arg(long, default_value_t = 10)]
        secs: u32,
        /// The console's process id, to report its resident memory.
        #[arg(long)]
        server_pid: Option<u32>,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        db: Db,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve(args) => serve(*args).await,
        Command::User { db, action } => {
            let pool = db::connect(&db.database_url).await?;
            switchyard::auth::cli::run(&pool, action).await
        }
        Command::Ingest { common, db, ingest } => {
            telemetry::init(common.log_format);
            let pool = db::connect(&db.database_url).await?;
            let (brokers, _embedded) = brokers(&common).await?;
            let stop_rx = stop_on_signal();
            consumer::run(pool, settings(&brokers, &db, &ingest), stop_rx).await
        }
        Command::Produce {
            common,
            count,
            order_id,
            raw,
            topic,
        } => {
            telemetry::init(common.log_format);
            let brokers = common
                .kafka_brokers
                .ok_or_else(|| anyhow::anyhow!("produce needs KAFKA_BROKERS"))?;
            let producer = kafka::producer(&brokers)?;
            if let Some(raw) = raw {
                let (p, o) = fleet::publish_raw(&producer, &topic, None, raw.as_bytes()).await?;
                println!("{topic}/{p}@{o}");
                return Ok(());
            }
            let mut rng = rand::rng();
            for _ in 0..count {
                let id = order_id.clone().unwrap_or_else(fleet::orders::new_order_id);
                let env = fleet::orders::new_order(&id, &mut rng);
                let (p, o) = fleet::publish(&producer, &env).await?;
                println!("{id} {}/{p}@{o}", env.event_type);
            }
            Ok(())
        }
        Command::IngestBench {
            common,
            db,
            records,
            batch_max,
            batch_wait_ms,
            lanes,
            latency_rate,
            latency_secs,
        } => {
            telemetry::init(common.log_format);
            let (brokers, _embedded) = brokers(&common).await?;
            switchyard::bench::run(switchyard::bench::BenchArgs {
                admin_url: db.database_url,
                brokers,
                records,
                batch_max,
                batch_wait: Duration::from_millis(batch_wait_ms),
                lanes: lanes.max(1),
                latency_rate,
                latency_secs,
            })
            .await
        }
        Command::Verify { common, db } => {
            telemetry::init(common.log_format);
            let pool = db::connect(&db.database_url).await?;
            let problems = switchyard::ingest::verify::verify(&pool).await?;
            if problems.is_empty() {
                println!("projections match the event store");
                return Ok(());
            }
            for p in &problems {
                println!("{p}");
            }
            anyhow::bail!(
                "{} differences between projections and event store",
                problems.len()
            )
        }
        Command::Fleet {
            common,
            db,
            rate,
            services,
            mode,
            chaos,
        } => {
            telemetry::init(common.log_format);
            let services = fleet::runtime::Service::parse_list(&services)?;
            let (brokers, _embedded) = brokers(&common).await?;
            let stop_rx = stop_on_signal();
            let run = FleetRun {
                rate,
                chaos,
                mode,
                services,
            };
            run_fleet(&db.database_url, &brokers, run, stop_rx).await
        }
        Command::Fault {
            common,
            db,
            name,
            value,
        } => {
            telemetry::init(common.log_format);
            if !fleet::dependency::FAULTS.iter().any(|(n, _)| *n == name) {
                let known: Vec<_> = fleet::dependency::FAULTS
                    .iter()
                    .map(|(n, d)| format!("  {n}: {d}"))
                    .collect();
                anyhow::bail!(
                    "unknown fault {name:?}; known faults:\n{}",
                    known.join("\n")
                );
            }
            let pool = fleet::store::connect(&db.database_url).await?;
            sqlx::query(
                "INSERT INTO faults (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = $2, updated_at = now()",
            )
            .bind(&name)
            .bind(value)
            .execute(&pool)
            .await?;
            println!("{name} = {value}");
            Ok(())
        }
        Command::Replay {
            common,
            db,
            id,
            by,
            replay,
        } => {
            telemetry::init(common.log_format);
            let brokers = common
                .kafka_brokers
                .ok_or_else(|| anyhow::anyhow!("replay needs KAFKA_BROKERS"))?;
            let pool = db::connect(&db.database_url).await?;
            let outcome = switchyard::replay::replay_one(
                &pool,
                &kafka::producer(&brokers)?,
                &switchyard::replay::watermarks::Watermarks::new(&brokers)?,
                id,
                &switchyard::audit::Actor::cli(by),
                replay.max_replays,
            )
            .await?;
            println!("{outcome:?}");
            Ok(())
        }
        Command::ReplayBench {
            common,
            db,
            records,
            batch,
            topic,
        } => {
            telemetry::init(common.log_format);
            let (brokers, _embedded) = brokers(&common).await?;
            switchyard::replay::bench::run(&db.database_url, &brokers, records, batch, topic).await
        }
        Command::AssistantEval {
            file,
            assistant,
            rules_only,
            min_accuracy,
        } => assistant_eval(&file, &assistant, rules_only, min_accuracy),
        Command::Seed {
            common,
            db,
            orders,
            events_per_order,
            hours,
            chunk,
        } => {
            telemetry::init(common.log_format);
            let pool = db::connect(&db.database_url).await?;
            let started = std::time::Instant::now();
            let (orders, events) = switchyard::seed::seed(
                &pool,
                &switchyard::seed::SeedArgs {
                    orders,
                    events_per_order: events_per_order.clamp(1, 99),
                    hours,
                    chunk,
                },
            )
            .await?;
            println!(
                "seeded {orders} orders, {events} events in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::PageBench {
            common,
            db,
            base,
            user,
            password,
            samples,
        } => {
            telemetry::init(common.log_format);
            let pool = db::connect(&db.database_url).await?;
            switchyard::page_bench::run(
                &pool,
                switchyard::page_bench::PageBenchArgs {
                    base,
                    user,
                    password,
                    samples,
                },
            )
            .await
        }
        Command::PushBench {
            common,
            base,
            user,
            password,
            rate,
            secs,
            server_pid,
        } => {
            telemetry::init(common.log_format);
            let Some(brokers) = common.kafka_brokers.clone() else {
                anyhow::bail!(
                    "push-bench needs KAFKA_BROKERS: the broker the console ingests from"
                );
            };
            switchyard::push_bench::run(switchyard::push_bench::PushBenchArgs {
                base,
                user,
                password,
                brokers,
                rate,
                secs,
                server_pid,
            })
            .await
        }
        Command::Migrate { common, db } => {
            telemetry::init(common.log_format);
            db::connect(&db.database_url).await?;
            println!("migrations applied");
            Ok(())
        }
    }
}

fn settings(brokers: &str, db: &Db, ingest: &IngestConfig) -> IngestSettings {
    IngestSettings {
        brokers: brokers.to_string(),
        database_url: db.database_url.clone(),
        group_id: ingest.group_id.clone(),
        topics: contract::all_topics(),
        batch_max: ingest.batch_max.max(1),
        batch_wait: Duration::from_millis(ingest.batch_wait_ms),
        session_timeout_ms: ingest.session_timeout_ms,
        lanes: ingest.lanes.max(1),
    }
}

/// The configured brokers (topics ensured), or an embedded broker when none is configured.
async fn brokers(common: &Common) -> anyhow::Result<(String, Option<EmbeddedBroker>)> {
    let all = contract::all_topics();
    match &common.kafka_brokers {
        Some(b) => {
            topics::ensure(b, &all, topics::DEFAULT_PARTITIONS).await?;
            Ok((b.clone(), None))
        }
        None => {
            let embedded = EmbeddedBroker::start(&all, topics::DEFAULT_PARTITIONS)?;
            let b = embedded.bootstrap_servers().to_string();
            tracing::warn!(brokers = %b, "KAFKA_BROKERS unset: using an in-memory embedded broker (not durable)");
            Ok((b, Some(embedded)))
        }
    }
}

#[allow(clippy::too_many_arguments)] // one per group of settings
async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let ServeArgs {
        common,
        db,
        http,
        ingest,
        replay,
        auth,
        assistant,
        no_ingest,
        demo_rate,
    } = args;
    telemetry::init(common.log_format);
    let pool = db::connect(&db.database_url).await?;
    let (brokers, _embedded) = brokers(&common).await?;
    let (stop_tx, stop_rx) = watch::channel(false);

    let ingest_task = (!no_ingest).then(|| {
        let (pool, settings, stop) = (
            pool.clone(),
            settings(&brokers, &db, &ingest),
            stop_rx.clone(),
        );
        tokio::spawn(async move {
            if let Err(e) = consumer::run(pool, settings, stop).await {
                tracing::error!(error = %e, "ingest stopped with an error");
            }
        })
    });
    if let Some(rate) = demo_rate {
        let (url, brokers, stop) = (db.database_url.clone(), brokers.clone(), stop_rx.clone());
        tokio::spawn(async move {
            let run = FleetRun {
                rate,
                chaos: true,
                mode: fleet::runtime::Mode::Orchestrated,
                services: fleet::runtime::Service::ALL.to_vec(),
            };
            if let Err(e) = run_fleet(&url, &brokers, run, stop).await {
                tracing::error!(error = %e, "demo fleet stopped");
            }
        });
    }
    let hub = LiveHub::new();
    tokio::spawn(hub.clone().run(pool.clone()));
    // Replay jobs: this instance's runner resumes running jobs whose runner is gone.
    let runner = switchyard::replay::runner::Runner::new(
        pool.clone(),
        &brokers,
        Duration::from_secs(replay.replay_lease_secs.max(1)),
        replay.replay_batch,
    )?;
    tokio::spawn(runner.run(stop_rx.clone()));

    let leptos_options = LeptosOptions::builder()
        .output_name("switchyard")
        .site_root(http.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(http.addr)
        .build();
    let (auth, sessions) = Auth::start(pool.clone(), auth).await?;
    let state = AppState {
        leptos_options,
        auth,
        pool: pool.clone(),
        hub,
        ops: Arc::new(PgOps::new(pool.clone())),
        dlq: Arc::new(PgDeadLetters::new(
            pool.clone(),
            &brokers,
            replay.max_replays,
        )?),
        admin: Arc::new(switchyard::admin::PgAdmin::new(pool.clone())),
        assistant: Arc::new(Assistant::from_config(pool, &assistant)?),
        kafka: kafka::producer(&brokers)?,
    };
    let listener = tokio::net::TcpListener::bind(http.addr).await?;
    let url = format!("http://{}", listener.local_addr()?);
    // Pages stream in several writes; without TCP_NODELAY, Nagle holds the last small
    // write until the client's delayed ACK (40 ms on Linux) — measured by page-bench.
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    tracing::info!(%url, "Switchyard console listening");
    println!("Switchyard console: {url}");
    let app = router(state, sessions);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    })
    .await?;
    if let Some(t) = ingest_task {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    Ok(())
}

/// `switchyard assistant-eval`: the offline router over the evaluation set.
fn assistant_eval(
    file: &std::path::Path,
    cfg: &AssistantConfig,
    rules_only: bool,
    min_accuracy: f64,
) -> anyhow::Result<()> {
    use switchyard::assistant::{eval, offline::OfflineBackend};
    let cases = eval::load(file)?;
    let t0 = std::time::Instant::now();
    let router = if rules_only {
        OfflineBackend::rules_only("--rules-only")
    } else {
        OfflineBackend::load(&cfg.embedding_model_dir())
    };
    let load = t0.elapsed();
    let r = eval::run(&router, &cases);
    for m in &r.misses {
        println!(
            "MISS {:?}\n     expected {} {}\n     got      {} {} (score {:.2})",
            m.case.q, m.case.tool, m.case.args, m.tool, m.args, m.score
        );
    }
    println!(
        "router: {} (model load {} ms)",
        if r.with_model {
            "rules + all-MiniLM-L6-v2 embeddings"
        } else {
            "rules only"
        },
        load.as_millis()
    );
    println!(
        "accuracy: {}/{} = {:.1}% right tool and arguments",
        r.right,
        r.total,
        100.0 * r.accuracy()
    );
    println!(
        "latency per question: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        r.p50.as_secs_f64() * 1e3,
        r.p95.as_secs_f64() * 1e3,
        r.max.as_secs_f64() * 1e3
    );
    anyhow::ensure!(
        r.accuracy() >= min_accuracy,
        "accuracy {:.1}% is below {:.1}%",
        100.0 * r.accuracy(),
        100.0 * min_accuracy
    );
    Ok(())
}

/// What `run_fleet` runs.
struct FleetRun {
    rate: f64,
    chaos: bool,
    mode: fleet::runtime::Mode,
    services: Vec<fleet::runtime::Service>,
}

/// The fleet in this process: the chosen services, the load generator (with the order
/// service), optional chaos.
async fn run_fleet(
    database_url: &str,
    brokers: &str,
    run: FleetRun,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let pool = fleet::store::connect(database_url).await?;
    // A little background noise unless someone set it: 3 % declined cards, 2 % poison.
    sqlx::query(
        "INSERT INTO faults (name, value) VALUES ('payment_decline_rate', 0.03),
            ('notification_poison_rate', 0.02) ON CONFLICT (name) DO NOTHING",
    )
    .execute(&pool)
    .await?;
    let fleet = Arc::new(fleet::runtime::Fleet::new(
        pool.clone(),
        kafka::producer(brokers)?,
        brokers,
        fleet::breaker::Config {
            window_size: 20,
            minimum_calls: 10,
            ..Default::default()
        },
        run.mode,
    ));
    let with_orders = run.services.contains(&fleet::runtime::Service::Order);
    if run.chaos && with_orders {
        tokio::spawn(fleet::runtime::Fleet::chaos(
            pool,
            Duration::from_secs(60),
            Duration::from_secs(15),
            stop.clone(),
        ));
    }
    let names: Vec<_> = run.services.iter().map(|s| s.name()).collect();
    tracing::info!(rate = run.rate, chaos = run.chaos, mode = run.mode.as_str(), services = ?names, "fleet running");
    fleet.run(&run.services, run.rate, stop).await;
    Ok(())
}

/// A stop flag that turns true on Ctrl-C or SIGTERM.
fn stop_on_signal() -> watch::Receiver<bool> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    stop_rx
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
