//! Configuration, from environment variables (each also a command-line flag). The README's
//! table lists them; this is the one place that reads them. The broker and the log format,
//! shared with the fleet and the tools, are `switchyard_contract::process::Common`.

use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Clone, Debug)]
pub struct Db {
    /// PostgreSQL connection string. `make demo` starts a private cluster when unset.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,

    /// Connections in this process's pool.
    #[arg(long, env = "SWITCHYARD_DB_POOL", default_value_t = 16)]
    pub db_pool: u32,

    /// Longest a statement may run, in milliseconds, before PostgreSQL cancels it (0: no
    /// limit). Migrations run without it.
    #[arg(
        long,
        env = "SWITCHYARD_DB_STATEMENT_TIMEOUT_MS",
        default_value_t = 30_000
    )]
    pub db_statement_timeout_ms: u64,
}

#[derive(Args, Clone, Debug)]
pub struct Http {
    /// Address the console listens on.
    #[arg(long, env = "SWITCHYARD_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Directory holding the built site (`pkg/` with the wasm bundle, `style/`, assets).
    #[arg(long, env = "SWITCHYARD_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    #[command(flatten)]
    pub limits: Limits,
}

/// What one client may take of the console: each refusal is a 413, 431, 429 or 503 with
/// `Retry-After` where waiting helps (`http::limits`).
#[derive(Args, Clone, Debug)]
pub struct Limits {
    /// Largest request body, in bytes (413 beyond).
    #[arg(long, env = "SWITCHYARD_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,

    /// Largest request head (request line and headers), in bytes (431 beyond).
    #[arg(long, env = "SWITCHYARD_MAX_HEADER_BYTES", default_value_t = 32 * 1024)]
    pub max_header_bytes: usize,

    /// Seconds a client has to send its request head before the connection is closed.
    #[arg(
        long,
        env = "SWITCHYARD_HEADER_READ_TIMEOUT_SECS",
        default_value_t = 10
    )]
    pub header_read_timeout_secs: u64,

    /// Open live-push streams (`/api/live`) per user (429 beyond).
    #[arg(long, env = "SWITCHYARD_PUSH_STREAMS_PER_USER", default_value_t = 8)]
    pub push_streams_per_user: usize,

    /// Seconds between checks that a push stream's session is still signed in.
    #[arg(long, env = "SWITCHYARD_PUSH_SESSION_CHECK_SECS", default_value_t = 5)]
    pub push_session_check_secs: u64,

    /// Questions to the assistant per user per minute (429 beyond).
    #[arg(long, env = "SWITCHYARD_ASSISTANT_PER_MIN", default_value_t = 10)]
    pub assistant_per_min: u32,

    /// Questions to the assistant one user may have running at once (429 beyond).
    #[arg(long, env = "SWITCHYARD_ASSISTANT_IN_FLIGHT", default_value_t = 2)]
    pub assistant_in_flight: usize,
}

/// Sessions and sign-in.
#[derive(Args, Clone, Debug)]
pub struct AuthConfig {
    /// A session ends after this many seconds without a request.
    #[arg(long, env = "SWITCHYARD_SESSION_IDLE_SECS", default_value_t = 3600)]
    pub session_idle_secs: u64,

    /// A session ends this many seconds after sign-in, however busy (absolute lifetime).
    #[arg(long, env = "SWITCHYARD_SESSION_MAX_SECS", default_value_t = 12 * 3600)]
    pub session_max_secs: u64,

    /// The address users reach the console at (e.g. `https://console.example.com`). An
    /// `https` address turns on `Secure` cookies and HSTS.
    #[arg(long, env = "SWITCHYARD_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Addresses of the proxies in front of the console, comma-separated. A request from
    /// one of them is counted (sign-in limits, audit) under the nearest address in its
    /// `X-Forwarded-For` that is not a trusted proxy; from anyone else, the header is ignored.
    #[arg(long, env = "SWITCHYARD_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// Mark the session cookie `Secure` even without an `https` public URL.
    #[arg(long, env = "SWITCHYARD_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,

    /// Sign-in attempts allowed per account and address per window (four times as many
    /// per address, ten times as many per account across addresses).
    #[arg(long, env = "SWITCHYARD_LOGIN_ATTEMPTS", default_value_t = 5)]
    pub login_attempts: u32,

    /// Whether local passwords sign people in; `false` when an identity provider (OIDC)
    /// is the only way in.
    #[arg(long, env = "SWITCHYARD_LOCAL_PASSWORDS", default_value_t = true, action = clap::ArgAction::Set)]
    pub local_passwords: bool,

    /// Failed sign-ins written to the audit log per minute, at most; the rest are counted
    /// in `switchyard_refusals_total{reason="login_audit_skipped"}` and logged in sum.
    #[arg(long, env = "SWITCHYARD_LOGIN_AUDIT_PER_MIN", default_value_t = 60)]
    pub login_audit_per_min: u32,

    /// The rate-limit window for sign-in attempts, in seconds.
    #[arg(long, env = "SWITCHYARD_LOGIN_WINDOW_SECS", default_value_t = 60)]
    pub login_window_secs: u64,

    /// Bearer token a Prometheus scraper presents for `/metrics`
    /// (`Authorization: Bearer …`). Unset: `/metrics` needs a signed-in session.
    #[arg(long, env = "SWITCHYARD_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    #[command(flatten)]
    pub oidc: OidcConfig,
}

/// Single sign-on with an OpenID Connect provider (`auth::oidc`). Unset issuer: off.
#[derive(Args, Clone, Debug, Default)]
pub struct OidcConfig {
    /// The provider's issuer URL (its discovery document is `<issuer>/.well-known/openid-configuration`).
    #[arg(long, env = "SWITCHYARD_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,

    /// The console's client id at the provider.
    #[arg(long, env = "SWITCHYARD_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,

    /// The console's client secret at the provider.
    #[arg(long, env = "SWITCHYARD_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,

    /// Scopes asked for, comma-separated (`openid` is always asked).
    #[arg(
        long,
        env = "SWITCHYARD_OIDC_SCOPES",
        value_delimiter = ',',
        default_value = "openid,profile,email"
    )]
    pub oidc_scopes: Vec<String>,

    /// The ID-token claim holding the user's groups (a list, or a string of them).
    #[arg(long, env = "SWITCHYARD_OIDC_ROLE_CLAIM", default_value = "groups")]
    pub oidc_role_claim: String,

    /// Groups that make a user an admin, comma-separated (`*`: everyone).
    #[arg(long, env = "SWITCHYARD_OIDC_ADMIN_GROUPS", value_delimiter = ',')]
    pub oidc_admin_groups: Vec<String>,

    /// Groups that make a user an operator, comma-separated (`*`: everyone).
    #[arg(long, env = "SWITCHYARD_OIDC_OPERATOR_GROUPS", value_delimiter = ',')]
    pub oidc_operator_groups: Vec<String>,

    /// Groups that make a user a viewer, comma-separated (`*`: everyone the provider signs
    /// in). A user in none of the three is refused.
    #[arg(long, env = "SWITCHYARD_OIDC_VIEWER_GROUPS", value_delimiter = ',')]
    pub oidc_viewer_groups: Vec<String>,

    /// Claims tried, in order, for the console user name.
    #[arg(
        long,
        env = "SWITCHYARD_OIDC_NAME_CLAIMS",
        value_delimiter = ',',
        default_value = "preferred_username,email,sub"
    )]
    pub oidc_name_claims: Vec<String>,

    /// The login page's button says "Sign in with <label>".
    #[arg(long, env = "SWITCHYARD_OIDC_LABEL", default_value = "single sign-on")]
    pub oidc_label: String,
}

impl AuthConfig {
    /// Whether cookies are marked `Secure` (and HSTS sent): asked for, or an `https`
    /// public URL.
    pub fn secure(&self) -> bool {
        self.secure_cookies
            || self
                .public_url
                .as_deref()
                .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
    }
}

/// Default of `batch_wait_ms` (the console's and the benchmark's).
pub const DEFAULT_BATCH_WAIT_MS: u64 = 20;

#[derive(Args, Clone, Debug)]
pub struct IngestConfig {
    /// Kafka consumer group shared by every console instance.
    #[arg(long, env = "KAFKA_GROUP_ID", default_value = "switchyard-console")]
    pub group_id: String,

    /// Most records read into one batch; each lane writes its share of it in one database
    /// transaction. Only a backlog fills it: live, a batch closes after `batch_wait_ms`.
    #[arg(long, env = "SWITCHYARD_BATCH_MAX", default_value_t = 10_000)]
    pub batch_max: usize,

    /// Longest time, in milliseconds, a record waits for its batch to fill.
    #[arg(long, env = "SWITCHYARD_BATCH_WAIT_MS", default_value_t = DEFAULT_BATCH_WAIT_MS)]
    pub batch_wait_ms: u64,

    /// Kafka group session timeout: how long a crashed member holds its partitions.
    #[arg(long, env = "KAFKA_SESSION_TIMEOUT_MS", default_value_t = 10_000)]
    pub session_timeout_ms: u32,

    /// Batches written side by side, each in its own transaction over its own share of the
    /// partitions: lets PostgreSQL use more than one core for ingest.
    #[arg(long, env = "SWITCHYARD_INGEST_LANES", default_value_t = 2)]
    pub lanes: usize,

    /// Topics holding events: names and `^regular expressions`, comma-separated; the entry
    /// `contract` stands for the fleet's event topics (the default).
    #[arg(
        long,
        env = "SWITCHYARD_TOPICS",
        value_delimiter = ',',
        default_value = "contract"
    )]
    pub topics: Vec<String>,

    /// Topics holding dead letters: names and `^regular expressions`, comma-separated; the
    /// entry `default` stands for every ecosystem's naming convention (`.dlq`, `-dlq`,
    /// `_dlq`, `.DLT`, `-dlt`, `error.<t>.<g>`, `dead-letter-topic-<t>`, `dlq-<name>`).
    /// A record whose headers name an original topic is a dead letter on any topic.
    #[arg(
        long,
        env = "SWITCHYARD_DEAD_LETTER_TOPICS",
        value_delimiter = ',',
        default_value = "default"
    )]
    pub dead_letter_topics: Vec<String>,

    /// A TOML file of envelope mappings: how other teams' topics say what an event is
    /// (where the id, type, order id and time are; their type names; their field names).
    /// Their topics are read as event topics. CloudEvents need no mapping. The format and
    /// a worked example: `examples/envelopes/spring-orders.toml`.
    #[arg(long, env = "SWITCHYARD_ENVELOPES")]
    pub envelopes: Option<std::path::PathBuf>,

    /// A TOML file of masking rules: fields (JSON pointers, name patterns) and headers
    /// masked per topic pattern, and which value detectors run. Without it the built-in
    /// rules apply: secrets and personal identifiers by field and header name, card
    /// numbers, e-mail addresses, international phone numbers and secrets in text
    /// anywhere. The format: `examples/masking.toml`.
    #[arg(long, env = "SWITCHYARD_MASKING")]
    pub masking: Option<std::path::PathBuf>,

    /// How often, in milliseconds, the list of topics is refreshed: a topic created while
    /// the console runs is read within this time when a pattern matches it.
    #[arg(long, env = "SWITCHYARD_TOPIC_REFRESH_MS", default_value_t = 10_000)]
    pub topic_refresh_ms: u32,

    /// How often, in seconds, ingest compares the assigned partitions' logs with its stored
    /// positions while running (a log replaced, or records expired, after the assignment).
    #[arg(long, env = "SWITCHYARD_LOG_CHECK_SECS", default_value_t = 30)]
    pub log_check_secs: u32,

    /// What ingest does when a partition's log was replaced under its stored position
    /// (topic recreated, cluster rebuilt, offsets reset): `new-incarnation` keeps what is
    /// stored and reads the new log from its start; `pause` holds the partition until an
    /// admin decides on the admin page.
    #[arg(long, env = "SWITCHYARD_ON_LOG_REPLACED", value_enum, default_value_t)]
    pub on_log_replaced: crate::ingest::log_incidents::OnReplaced,

    /// What ingest does when records expired before it read them: `continue` records the
    /// gap (shown in the order history it touches) and reads on; `pause` holds the
    /// partition until an admin decides.
    #[arg(
        long,
        env = "SWITCHYARD_ON_RECORDS_EXPIRED",
        value_enum,
        default_value_t
    )]
    pub on_records_expired: crate::ingest::log_incidents::OnExpired,

    /// Create the fleet's contract topics when they are missing. Off by default: the console
    /// never creates topics on a cluster it did not create unless told to.
    #[arg(long, env = "SWITCHYARD_CREATE_TOPICS", default_value_t = false)]
    pub create_topics: bool,

    /// Partitions of each topic the console creates (with `SWITCHYARD_CREATE_TOPICS`).
    #[arg(long, env = "SWITCHYARD_TOPIC_PARTITIONS", default_value_t = switchyard_contract::kafka::topics::DEFAULT_PARTITIONS)]
    pub topic_partitions: i32,

    /// Replication factor of each topic the console creates.
    #[arg(long, env = "SWITCHYARD_TOPIC_REPLICATION", default_value_t = 1)]
    pub topic_replication: i32,
}

impl IngestConfig {
    /// How topics are created, if the console may create them.
    pub fn topic_creation(&self) -> Option<switchyard_contract::kafka::topics::Creation> {
        self.create_topics
            .then_some(switchyard_contract::kafka::topics::Creation {
                partitions: self.topic_partitions,
                replication: self.topic_replication,
            })
    }

    /// The topics to read, from the two lists (with their `contract` and `default` entries
    /// expanded).
    pub fn topic_lists(&self) -> anyhow::Result<crate::ingest::consumer::Topics> {
        use switchyard_contract::topic_selection::{TopicSelection, DEFAULT_DEAD_LETTER_PATTERNS};
        let expand = |list: &[String], word: &str, with: Vec<String>| -> Vec<String> {
            list.iter()
                .flat_map(|e| {
                    if e.trim() == word {
                        with.clone()
                    } else {
                        vec![e.clone()]
                    }
                })
                .collect()
        };
        let contract: Vec<String> = switchyard_contract::event_types()
            .map(str::to_string)
            .collect();
        let defaults: Vec<String> = DEFAULT_DEAD_LETTER_PATTERNS
            .iter()
            .map(|p| p.to_string())
            .collect();
        let envelopes = match &self.envelopes {
            Some(path) => crate::ingest::envelopes::Envelopes::load(path)?,
            None => Default::default(),
        };
        let mut events = expand(&self.topics, "contract", contract);
        for entry in envelopes.topic_entries() {
            if !events.iter().any(|e| e == entry) {
                events.push(entry.to_string());
            }
        }
        let topics = crate::ingest::consumer::Topics {
            events: TopicSelection::parse(&events)?,
            dead_letters: TopicSelection::parse(&expand(
                &self.dead_letter_topics,
                "default",
                defaults,
            ))?,
            envelopes: std::sync::Arc::new(envelopes),
            masker: crate::masking::Masker::load(self.masking.as_deref())?,
        };
        if topics.events.is_empty() && topics.dead_letters.is_empty() {
            anyhow::bail!("SWITCHYARD_TOPICS and SWITCHYARD_DEAD_LETTER_TOPICS are both empty: nothing to read");
        }
        Ok(topics)
    }
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

/// The Confluent Schema Registry that decodes framed payloads (Avro, JSON Schema) on the
/// dead-letter pages. Without a URL, framed payloads are shown raw and said to be framed.
#[derive(Args, Clone, Debug, Default)]
pub struct RegistryConfig {
    /// The registry's base URL, e.g. `https://registry.example.com:8081`.
    #[arg(long, env = "SWITCHYARD_SCHEMA_REGISTRY_URL")]
    pub schema_registry_url: Option<String>,

    /// Basic credentials as `user:password` (Confluent's `basic.auth.user.info`).
    #[arg(
        long,
        env = "SWITCHYARD_SCHEMA_REGISTRY_USER_INFO",
        hide_env_values = true
    )]
    pub schema_registry_user_info: Option<String>,

    /// A bearer token instead of basic credentials.
    #[arg(long, env = "SWITCHYARD_SCHEMA_REGISTRY_TOKEN", hide_env_values = true)]
    pub schema_registry_token: Option<String>,

    /// How long one request to the registry may take, in milliseconds.
    #[arg(
        long,
        env = "SWITCHYARD_SCHEMA_REGISTRY_TIMEOUT_MS",
        default_value_t = 2000
    )]
    pub schema_registry_timeout_ms: u64,
}

impl RegistryConfig {
    /// The registry client, when a URL is configured.
    pub fn registry(
        &self,
    ) -> anyhow::Result<Option<std::sync::Arc<crate::payload::registry::Registry>>> {
        use crate::payload::registry::{Auth, Registry};
        let Some(url) = self
            .schema_registry_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        else {
            return Ok(None);
        };
        let auth = match (&self.schema_registry_user_info, &self.schema_registry_token) {
            (Some(_), Some(_)) => anyhow::bail!(
                "set SWITCHYARD_SCHEMA_REGISTRY_USER_INFO or SWITCHYARD_SCHEMA_REGISTRY_TOKEN, not both"
            ),
            (Some(info), None) => {
                let (user, password) = info.split_once(':').ok_or_else(|| {
                    anyhow::anyhow!("SWITCHYARD_SCHEMA_REGISTRY_USER_INFO is not user:password")
                })?;
                Auth::Basic {
                    user: user.to_string(),
                    password: password.to_string(),
                }
            }
            (None, Some(token)) => Auth::Bearer(token.clone()),
            (None, None) => Auth::None,
        };
        let timeout = std::time::Duration::from_millis(self.schema_registry_timeout_ms.max(1));
        Ok(Some(std::sync::Arc::new(Registry::new(
            url, auth, timeout,
        )?)))
    }
}

/// Which model answers the assistant's questions.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssistantBackendKind {
    /// The offline router: sentence embeddings + rules, answers from templates. No network.
    Offline,
    /// Anthropic's Messages API (key from `ANTHROPIC_API_KEY`).
    Anthropic,
    /// An OpenAI-compatible chat-completions server: llama.cpp, vLLM, Ollama (key, if any,
    /// from `OPENAI_API_KEY`).
    Openai,
}

/// The assistant's settings. API keys are deliberately not here: they are read from the
/// environment only (`ANTHROPIC_API_KEY`, `OPENAI_API_KEY`), never from a flag.
#[derive(Args, Clone, Debug)]
pub struct AssistantConfig {
    /// Who answers: `offline` (default, no network), `anthropic` or `openai`.
    #[arg(long, env = "SWITCHYARD_ASSISTANT_BACKEND", value_enum, default_value_t = AssistantBackendKind::Offline)]
    pub assistant_backend: AssistantBackendKind,

    /// Model name for a hosted backend (default: `claude-sonnet-4-20250514` for anthropic;
    /// required for openai).
    #[arg(long, env = "SWITCHYARD_ASSISTANT_MODEL")]
    pub assistant_model: Option<String>,

    /// Base URL of the hosted backend (default `https://api.anthropic.com` for anthropic,
    /// `http://127.0.0.1:8080/v1` for openai).
    #[arg(long, env = "SWITCHYARD_ASSISTANT_URL")]
    pub assistant_url: Option<String>,

    /// Directory holding all-MiniLM-L6-v2 (`model.safetensors`, `tokenizer.json`,
    /// `config.json`) for the offline router. Default: where `scripts/setup.sh` puts it,
    /// `$SWITCHYARD_CACHE/models/all-MiniLM-L6-v2`. Absent: rules only.
    #[arg(long, env = "SWITCHYARD_EMBEDDING_MODEL")]
    pub embedding_model: Option<PathBuf>,

    /// Most model turns per question before the loop stops.
    #[arg(long, env = "SWITCHYARD_ASSISTANT_MAX_STEPS", default_value_t = 6)]
    pub assistant_max_steps: usize,

    /// Seconds one hosted-model request may take (including streaming the answer).
    #[arg(long, env = "SWITCHYARD_ASSISTANT_TIMEOUT_SECS", default_value_t = 60)]
    pub assistant_timeout_secs: u64,
}

impl AssistantConfig {
    /// The embedding model's directory: the configured one, or the setup script's.
    pub fn embedding_model_dir(&self) -> PathBuf {
        self.embedding_model.clone().unwrap_or_else(|| {
            let cache = std::env::var_os("SWITCHYARD_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    std::env::var_os("XDG_CACHE_HOME")
                        .map(PathBuf::from)
                        .unwrap_or_else(|| {
                            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                                .join(".cache")
                        })
                        .join("switchyard")
                });
            cache.join("models/all-MiniLM-L6-v2")
        })
    }
}

/// How long each growing table keeps its rows (`retention`). Durations as `90s`, `20m`,
/// `12h`, `7d`. Defaults a deployment can live with: a week of events (about 630 bytes an
/// event with its indexes), a month of everything an operator looks back on, a year and a
/// month of audit (it is evidence; never less than a day).
#[derive(Args, Clone, Debug)]
pub struct RetentionConfig {
    /// The event store and the saga timeline: whole partitions are dropped once everything
    /// in them was ingested longer ago than this.
    #[arg(long, env = "SWITCHYARD_RETAIN_EVENTS", default_value = "7d", value_parser = humantime::parse_duration)]
    pub retain_events: Duration,

    /// Width of one partition of the event store (and its maintenance cadence: half of it,
    /// between 5 s and 10 min). Partitions are created three widths ahead.
    #[arg(long, env = "SWITCHYARD_EVENTS_PARTITION", default_value = "1d", value_parser = humantime::parse_duration)]
    pub events_partition: Duration,

    /// How often the other tables are trimmed.
    #[arg(long, env = "SWITCHYARD_RETENTION_CHECK", default_value = "10m", value_parser = humantime::parse_duration)]
    pub retention_check: Duration,

    /// Breaker state transitions (the breakers' history; their current state stays).
    #[arg(long, env = "SWITCHYARD_RETAIN_BREAKER_HISTORY", default_value = "30d", value_parser = humantime::parse_duration)]
    pub retain_breaker_history: Duration,

    /// Per-minute counts behind the overview's charts.
    #[arg(long, env = "SWITCHYARD_RETAIN_ROLLUPS", default_value = "30d", value_parser = humantime::parse_duration)]
    pub retain_rollups: Duration,

    /// Quarantined records.
    #[arg(long, env = "SWITCHYARD_RETAIN_QUARANTINE", default_value = "30d", value_parser = humantime::parse_duration)]
    pub retain_quarantine: Duration,

    /// Dead letters once resolved (replayed or discarded) or back as a newer dead letter
    /// (`failed_again`), counted from then;
    /// unresolved ones are kept until they are.
    #[arg(long, env = "SWITCHYARD_RETAIN_RESOLVED_DEAD_LETTERS", default_value = "30d", value_parser = humantime::parse_duration)]
    pub retain_resolved_dead_letters: Duration,

    /// Finished replay jobs and their items, from their end.
    #[arg(long, env = "SWITCHYARD_RETAIN_REPLAY_JOBS", default_value = "30d", value_parser = humantime::parse_duration)]
    pub retain_replay_jobs: Duration,

    /// Assistant conversations, from their last turn.
    #[arg(long, env = "SWITCHYARD_RETAIN_CONVERSATIONS", default_value = "30d", value_parser = humantime::parse_duration)]
    pub retain_conversations: Duration,

    /// Finished orders (completed, failed, cancelled) in the orders list, from their last
    /// change. Orders still running are kept.
    #[arg(long, env = "SWITCHYARD_RETAIN_ORDERS", default_value = "90d", value_parser = humantime::parse_duration)]
    pub retain_orders: Duration,

    /// The audit log (never less than a day: the database refuses a shorter window).
    #[arg(long, env = "SWITCHYARD_RETAIN_AUDIT", default_value = "400d", value_parser = humantime::parse_duration)]
    pub retain_audit: Duration,
}
