//! What every Switchyard process (console, fleet, tools) shares: the broker and log-format
//! settings, log setup with `tracing`, and the stop: the signal, its bound, and the
//! second signal that exits at once. Each binary sets these up once,
//! in its `main`.
//!
//! Logs are readable lines by default, JSON when `SWITCHYARD_LOG_FORMAT=json`; the filter
//! comes from `RUST_LOG` (default: info for Switchyard, warn for dependencies).

use clap::{Args, ValueEnum};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// Settings shared by every subcommand of every Switchyard binary.
#[derive(Args, Clone, Debug)]
pub struct Common {
    /// Kafka bootstrap servers. When unset, an in-process broker (librdkafka's mock
    /// cluster) is started: fine for a demo, not durable.
    #[arg(long, env = "KAFKA_BROKERS", global = true)]
    pub kafka_brokers: Option<String>,

    /// Log format: `pretty` for people, `json` for log shippers.
    #[arg(long, env = "SWITCHYARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Installs the log subscriber (once per process; later calls are ignored, so tests may
/// call it freely).
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("warn,switchyard=info,switchyard_app=info,switchyard_fleet=info,switchyard_tools=info,switchyard_contract=info")
    });
    // librdkafka's own lines go to the diagnosis layer, which says once what they mean;
    // the readable or JSON output leaves them out (see `kafka::diagnosis`).
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(crate::kafka::diagnosis::KafkaLogLayer::new());
    let quiet = crate::kafka::diagnosis::WithoutLibrdkafka::from_env;
    let _ = match format {
        LogFormat::Pretty => registry
            .with(fmt::layer().with_target(false).with_filter(quiet()))
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_filter(quiet()),
            )
            .try_init(),
    };
}

/// How long a stop may take, from the first Ctrl-C or SIGTERM to the process's exit,
/// unless `SWITCHYARD_STOP_WITHIN_SECS` says otherwise. Everything the processes write is
/// committed in transactions (ingest positions with their rows, the fleet's outbox), so an
/// exit at the bound loses nothing that was committed — it is the same as a crash, which
/// the kill -9 suites test — but a stop should never need it.
pub const STOP_WITHIN: Duration = Duration::from_secs(10);

static STOPPING: AtomicBool = AtomicBool::new(false);

/// True once the first stop signal has arrived: components that would otherwise log every
/// failed reconnect (librdkafka, with its broker already gone) keep quiet.
pub fn stopping() -> bool {
    STOPPING.load(Ordering::Relaxed)
}

/// The stop bound in force (`SWITCHYARD_STOP_WITHIN_SECS`, else [`STOP_WITHIN`]).
pub fn stop_within() -> Duration {
    std::env::var("SWITCHYARD_STOP_WITHIN_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(STOP_WITHIN)
}

/// A stop flag that turns true on the first Ctrl-C or SIGTERM. The handlers are installed
/// before this returns: call it first thing, so that a signal during start-up stops the
/// process cleanly instead of killing it (the default action). The first signal also arms
/// the stop's two guarantees: a second signal exits at once, and the process exits at the
/// bound ([`stop_within`]) whatever its clients are still waiting for.
pub fn stop_on_signal() -> watch::Receiver<bool> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut signals = Signals::install();
    tokio::spawn(async move {
        let name = signals.recv().await;
        arm_stop(name, signals);
        let _ = stop_tx.send(true);
    });
    stop_rx
}

/// SIGINT and SIGTERM, caught from the moment this is made.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            int: signal(SignalKind::interrupt()).expect("install SIGINT handler"),
            term: signal(SignalKind::terminate()).expect("install SIGTERM handler"),
        }
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}

/// Once per process, however many waiters saw the signal.
fn arm_stop(name: &str, mut signals: Signals) {
    if STOPPING.swap(true, Ordering::SeqCst) {
        return;
    }
    let bound = stop_within();
    tracing::info!(
        signal = name,
        within_s = bound.as_secs_f64(),
        "stopping (a second signal exits at once)"
    );
    tokio::spawn(async move {
        let name = signals.recv().await;
        eprintln!("{name} again: exiting now");
        std::process::exit(130);
    });
    // A thread, not a task: it must fire even if the runtime is stuck or shutting down.
    let _ = std::thread::Builder::new()
        .name("stop-bound".into())
        .spawn(move || {
            std::thread::sleep(bound);
            tracing::warn!(
                within_s = bound.as_secs_f64(),
                "not stopped within the bound; exiting (committed work is kept)"
            );
            std::process::exit(1);
        });
}
