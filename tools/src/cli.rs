//! The `switchyard-tools` command line: one subcommand per tool; logging is set up once in
//! [`run`].

use clap::{Parser, Subcommand};
use std::time::Duration;
use switchyard::config::{AssistantConfig, Db, DEFAULT_BATCH_WAIT_MS};
use switchyard_contract::kafka;
use switchyard_contract::process::{self, Common};

#[derive(Parser)]
#[command(
    name = "switchyard-tools",
    version,
    about = "Benchmarks, seeding, evaluation and the demo of Switchyard"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Console and fleet in one process on the embedded broker (what `make demo` runs).
    Demo {
        /// New orders per second.
        #[arg(long, env = "SWITCHYARD_DEMO_RATE", default_value_t = 2.0)]
        rate: f64,
        #[command(flatten)]
        serve: Box<switchyard::cli::serve::ServeArgs>,
    },
    /// Measure the ingest pipeline against a raw COPY of the same rows (see BENCHMARKS.md).
    IngestBench {
        #[command(flatten)]
        db: Db,
        /// Records to produce and ingest.
        #[arg(long, default_value_t = 1_000_000)]
        records: usize,
        /// As `SWITCHYARD_BATCH_MAX`.
        #[arg(long, default_value_t = 10_000)]
        batch_max: usize,
        /// As `SWITCHYARD_BATCH_WAIT_MS`.
        #[arg(long, default_value_t = DEFAULT_BATCH_WAIT_MS)]
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
        /// How often ingest checks its logs while running, as `SWITCHYARD_LOG_CHECK_SECS`
        /// (often, so a false alarm on a live log shows: the run fails on any incident).
        #[arg(long, default_value_t = 5)]
        log_check_secs: u32,
    },
    /// What decoding (and masking) costs per record on the synthetic mix, with masking off
    /// as the baseline in the same run; no broker, no database (see BENCHMARKS.md).
    DecodeBench {
        /// Records to decode per round.
        #[arg(long, default_value_t = 200_000)]
        records: usize,
        /// Rounds; the best of each is kept.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Replay N dead letters as one unthrottled job and check the target topic for
    /// duplicates and losses (see BENCHMARKS.md).
    ReplayBench {
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
    /// Run the assistant's evaluation sets through the offline router: accuracy (right tool
    /// and arguments) per set and per tool, and routing latency. Exits 1 below
    /// --min-accuracy (whole) or --min-holdout (held-out set).
    AssistantEval {
        /// The tuning set (one JSON question per line).
        #[arg(long, default_value = "tools/assistant-eval.jsonl")]
        file: std::path::PathBuf,
        /// The held-out set, not tuned against ("" for none).
        #[arg(long, default_value = "tools/assistant-eval-holdout.jsonl")]
        holdout: std::path::PathBuf,
        #[command(flatten)]
        assistant: AssistantConfig,
        /// Route by rules alone, even if the embedding model is installed.
        #[arg(long)]
        rules_only: bool,
        #[arg(long, default_value_t = 0.95)]
        min_accuracy: f64,
        #[arg(long, default_value_t = 0.90)]
        min_holdout: f64,
    },
    /// Fill the read model with a large synthetic history (set-based SQL, no Kafka) for
    /// the page benchmark: orders with their events, saga steps, rollups, dead letters and
    /// breaker transitions, spread over the last `--hours`.
    Seed {
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
        db: Db,
        #[command(flatten)]
        console: SignIn,
        /// Requests per page.
        #[arg(long, default_value_t = 100)]
        samples: usize,
    },
    /// Time event produced -> pushed to an open page (`/api/live`) under load, against a
    /// running console with ingest and its broker (`KAFKA_BROKERS`).
    PushBench {
        #[command(flatten)]
        console: SignIn,
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
    /// Keep a realistic load on a running system (console with ingest, fleet, broker) for
    /// --minutes, sample it, and judge whether memory, database size and latencies stayed
    /// flat (issue 21; `scripts/soak.sh` starts the system; see BENCHMARKS.md).
    Soak {
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        console: SignIn,
        /// How long to run.
        #[arg(long, default_value_t = 120.0)]
        minutes: f64,
        /// Seconds between samples.
        #[arg(long, default_value_t = 60)]
        sample_secs: u64,
        /// Where samples.csv, tables.csv, report.md and soak.svg go.
        #[arg(long, default_value = "target/soak")]
        out: std::path::PathBuf,
        /// A process held to the memory rule, as name=pid (repeatable).
        #[arg(long = "watch")]
        watch: Vec<String>,
        /// A process sampled and plotted but not judged, as name=pid (repeatable).
        #[arg(long = "observe")]
        observe: Vec<String>,
        /// Another database whose size is sampled and plotted but not judged (repeatable).
        #[arg(long = "observe-database")]
        observe_databases: Vec<String>,
        /// Length of the first retention cycle (largest retention window + one events
        /// partition + one retention check), in seconds: the memory and size rules count only
        /// samples after it.
        #[arg(long, default_value_t = 1860)]
        warmup_secs: u64,
        /// Seconds between replay jobs.
        #[arg(long, default_value_t = 300)]
        replay_every_secs: u64,
        /// Probe orders per second, timed to the push stream.
        #[arg(long, default_value_t = 2.0)]
        probes_per_sec: f64,
        /// Milliseconds between page loads.
        #[arg(long, default_value_t = 500)]
        page_every_ms: u64,
        /// A probe not pushed within this many seconds counts as lost.
        #[arg(long, default_value_t = 30)]
        probe_timeout_secs: u64,
        /// Cut the contract topics' logs at this age every minute (DeleteRecords), as a
        /// cluster's retention.ms would: for a broker that keeps everything.
        #[arg(long)]
        broker_retention_secs: Option<u64>,
    },
}

/// A running console and the user a benchmark signs in as.
#[derive(clap::Args)]
pub struct SignIn {
    /// The console's base URL.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    base: String,
    #[arg(long, default_value = "bench")]
    user: String,
    #[arg(long, env = "SWITCHYARD_BENCH_PASSWORD")]
    password: String,
}

/// Runs one tool to its end.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let Cli { common, command } = cli;
    process::init_logging(common.log_format);
    let configured = common.kafka_brokers.as_deref();
    match command {
        Command::Demo { rate, serve } => crate::demo::run(configured, rate, *serve).await,
        Command::IngestBench {
            db,
            records,
            batch_max,
            batch_wait_ms,
            lanes,
            latency_rate,
            latency_secs,
            log_check_secs,
        } => {
            let (brokers, _embedded) =
                kafka::brokers_or_embedded(configured, Some(kafka::topics::Creation::default()))
                    .await?;
            crate::ingest_bench::run(crate::ingest_bench::BenchArgs {
                admin_url: db.database_url,
                brokers,
                records,
                batch_max,
                batch_wait: Duration::from_millis(batch_wait_ms),
                lanes: lanes.max(1),
                latency_rate,
                latency_secs,
                log_check_secs,
            })
            .await
        }
        Command::DecodeBench { records, rounds } => crate::decode_bench::run(records, rounds),
        Command::ReplayBench {
            db,
            records,
            batch,
            topic,
        } => {
            let (brokers, _embedded) =
                kafka::brokers_or_embedded(configured, Some(kafka::topics::Creation::default()))
                    .await?;
            crate::replay_bench::run(&db.database_url, &brokers, records, batch, topic).await
        }
        Command::AssistantEval {
            file,
            holdout,
            assistant,
            rules_only,
            min_accuracy,
            min_holdout,
        } => crate::assistant_eval::report(
            &file,
            (!holdout.as_os_str().is_empty()).then_some(holdout.as_path()),
            &assistant,
            rules_only,
            min_accuracy,
            min_holdout,
        ),
        Command::Seed {
            db,
            orders,
            events_per_order,
            hours,
            chunk,
        } => {
            let pool = switchyard::db::connect(&db.database_url).await?;
            let started = std::time::Instant::now();
            let args = crate::seed::SeedArgs {
                orders,
                events_per_order: events_per_order.clamp(1, 99),
                hours,
                chunk,
            };
            let (orders, events) = crate::seed::seed(&pool, &args).await?;
            println!(
                "seeded {orders} orders, {events} events in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::PageBench {
            db,
            console:
                SignIn {
                    base,
                    user,
                    password,
                },
            samples,
        } => {
            let pool = switchyard::db::connect(&db.database_url).await?;
            let args = crate::page_bench::PageBenchArgs {
                base,
                user,
                password,
                samples,
            };
            crate::page_bench::run(&pool, args).await
        }
        Command::PushBench {
            console:
                SignIn {
                    base,
                    user,
                    password,
                },
            rate,
            secs,
            server_pid,
        } => {
            let Some(brokers) = common.kafka_brokers.clone() else {
                anyhow::bail!(
                    "push-bench needs KAFKA_BROKERS: the broker the console ingests from"
                );
            };
            let args = crate::push_bench::PushBenchArgs {
                base,
                user,
                password,
                brokers,
                rate,
                secs,
                server_pid,
            };
            crate::push_bench::run(args).await
        }
        Command::Soak {
            db,
            console:
                SignIn {
                    base,
                    user,
                    password,
                },
            minutes,
            sample_secs,
            out,
            watch,
            observe,
            observe_databases,
            warmup_secs,
            replay_every_secs,
            probes_per_sec,
            page_every_ms,
            probe_timeout_secs,
            broker_retention_secs,
        } => {
            let Some(brokers) = common.kafka_brokers.clone() else {
                anyhow::bail!("soak needs KAFKA_BROKERS: the broker the console ingests from");
            };
            let mut processes = Vec::new();
            for w in &watch {
                processes.push(crate::soak::parse_watch(w, true)?);
            }
            for w in &observe {
                processes.push(crate::soak::parse_watch(w, false)?);
            }
            crate::soak::run(crate::soak::SoakArgs {
                base,
                user,
                password,
                brokers,
                database_url: db.database_url,
                minutes,
                sample_secs,
                out,
                setup: crate::soak::Setup {
                    processes,
                    other_databases: observe_databases,
                },
                warmup_secs: warmup_secs as f64,
                replay_every_secs,
                probes_per_sec,
                page_every_ms,
                probe_timeout_secs,
                broker_retention: broker_retention_secs.map(Duration::from_secs),
            })
            .await
        }
    }
}
