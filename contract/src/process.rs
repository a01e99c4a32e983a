//! What every Switchyard process (console, fleet, tools) shares: the broker and log-format
//! settings, log setup with `tracing`, and the stop signal. Each binary sets these up once,
//! in its `main`.
//!
//! Logs are readable lines by default, JSON when `SWITCHYARD_LOG_FORMAT=json`; the filter
//! comes from `RUST_LOG` (default: info for Switchyard, warn for dependencies).

use clap::{Args, ValueEnum};
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

/// A stop flag that turns true on Ctrl-C or SIGTERM.
pub fn stop_on_signal() -> watch::Receiver<bool> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    stop_rx
}

/// Resolves on the first Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
