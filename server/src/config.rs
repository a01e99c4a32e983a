//! Configuration, from environment variables (each also a command-line flag). The README's
//! table lists them; this is the one place that reads them.

use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Settings shared by every subcommand.
#[derive(Args, Clone, Debug)]
pub struct Common {
    /// Kafka bootstrap servers. When unset, an in-process broker (librdkafka's mock
    /// cluster) is started: fine for a demo, not durable.
    #[arg(long, env = "KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,

    /// Log format: `pretty` for people, `json` for log shippers.
    #[arg(long, env = "SWITCHYARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
}

#[derive(Args, Clone, Debug)]
pub struct Db {
    /// PostgreSQL connection string. `make demo` starts a private cluster when unset.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
}

#[derive(Args, Clone, Debug)]
pub struct Http {
    /// Address the console listens on.
    #[arg(long, env = "SWITCHYARD_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Directory holding the built site (`pkg/` with the wasm bundle, `style/`, assets).
    #[arg(long, env = "SWITCHYARD_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
}

/// Sessions and sign-in.
#[derive(Args, Clone, Debug)]
pub struct AuthConfig {
    /// A session ends after this many seconds without a request.
    #[arg(long, env = "SWITCHYARD_SESSION_IDLE_SECS", default_value_t = 3600)]
    pub session_idle_secs: u64,

    /// Mark the session cookie `Secure`: set when the console is served over TLS (by a
    /// proxy in front of it).
    #[arg(long, env = "SWITCHYARD_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,

    /// Sign-in attempts allowed per account per window (four times as many per address).
    #[arg(long, env = "SWITCHYARD_LOGIN_ATTEMPTS", default_value_t = 5)]
    pub login_attempts: u32,

    /// The rate-limit window for sign-in attempts, in seconds.
    #[arg(long, env = "SWITCHYARD_LOGIN_WINDOW_SECS", default_value_t = 60)]
    pub login_window_secs: u64,
}

#[derive(Args, Clone, Debug)]
pub struct IngestConfig {
    /// Kafka consumer group shared by every console instance.
    #[arg(long, env = "KAFKA_GROUP_ID", default_value = "switchyard-console")]
    pub group_id: String,

    /// Largest number of records written in one database transaction.
    #[arg(long, env = "SWITCHYARD_BATCH_MAX", default_value_t = 2000)]
    pub batch_max: usize,

    /// Longest time, in milliseconds, a record waits for its batch to fill.
    #[arg(long, env = "SWITCHYARD_BATCH_WAIT_MS", default_value_t = 20)]
    pub batch_wait_ms: u64,

    /// Kafka group session timeout: how long a crashed member holds its partitions.
    #[arg(long, env = "KAFKA_SESSION_TIMEOUT_MS", default_value_t = 10_000)]
    pub session_timeout_ms: u32,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Dead-letter replay settings (the console's job runner and replay commands).
#[derive(Args, Clone, Debug)]
pub struct ReplayConfig {
    /// Park a message instead of replaying it once it was replayed this often.
    #[arg(long, env = "SWITCHYARD_MAX_REPLAYS", default_value_t = 3)]
    pub max_replays: i32,

    /// How long a job runner holds a replay job; a crashed runner's jobs resume after it.
    #[arg(long, env = "SWITCHYARD_REPLAY_LEASE_SECS", default_value_t = 5)]
    pub replay_lease_secs: u64,

    /// Most messages a job claims and sends per batch (unthrottled jobs).
    #[arg(long, env = "SWITCHYARD_REPLAY_BATCH", default_value_t = 1000)]
    pub replay_batch: usize,
}
