//! How every Switchyard client connects to Kafka: client configuration (with the user's own
//! librdkafka properties: TLS, SASL), the producer and its renewal after a fatal error
//! ([`renewing`]), topics created when asked, and the embedded broker used when no broker
//! is configured. The console, the fleet and the tools all connect through here.

pub mod diagnosis;
pub mod embedded;
pub mod properties;
pub mod renewing;
pub mod topic_ids;
pub mod topics;

use rdkafka::config::ClientConfig;
use std::time::Duration;

/// Base client configuration for every producer, consumer and admin client: the user's
/// properties ([`properties`]) over Switchyard's defaults. What a client sets after this
/// (the consumer's group and commit settings, the producer's idempotence) is Switchyard's
/// own and cannot be given by the user (see `properties::OWNED`).
pub fn client_config(brokers: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", brokers)
        .set("client.id", "switchyard")
        .set("socket.keepalive.enable", "true")
        .set("log_level", "4");
    // An unreadable configuration was reported at start (`brokers_or_embedded`).
    if let Ok(props) = properties::global() {
        for (k, v) in props.iter().filter(|(k, _)| *k != "bootstrap.servers") {
            cfg.set(k, v);
        }
    }
    cfg
}

/// How long a Kafka client may take to close at a stop (a consumer leaving its group, a
/// last commit). Part of the process's stop bound (`process::stop_within`).
pub const CLOSE_WITHIN: Duration = Duration::from_secs(3);

/// Runs `close` (a last commit, the client's drop) on a thread of its own and waits at most
/// `bound` for it. librdkafka's consumer close waits for the broker to answer the group
/// leave and polls until it does: with the broker gone, for ever. A stop must not, so a
/// client still closing at the bound is left to the process's exit — what it had committed
/// is kept, what it had not is read again by the next run. True if it closed in time.
pub async fn close_within(
    what: &'static str,
    bound: Duration,
    close: impl FnOnce() + Send + 'static,
) -> bool {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("close {what}"))
        .spawn(move || {
            close();
            let _ = done_tx.send(());
        });
    if spawned.is_err() {
        return false;
    }
    match tokio::time::timeout(bound, done_rx).await {
        Ok(_) => true,
        Err(_) => {
            tracing::warn!(
                client = what,
                waited_s = bound.as_secs_f64(),
                "Kafka client not closed in time (broker unreachable); leaving it to the exit"
            );
            false
        }
    }
}

/// A producer that waits for all in-sync replicas and never writes duplicates on retry.
pub fn producer(brokers: &str) -> anyhow::Result<rdkafka::producer::FutureProducer> {
    Ok(client_config(brokers)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("compression.type", "lz4")
        .set("message.timeout.ms", "30000")
        .create()?)
}

/// The brokers to use: `KAFKA_BROKERS` when given, else the properties' `bootstrap.servers`.
pub fn configured_brokers(flag: Option<&str>) -> anyhow::Result<Option<String>> {
    if let Some(b) = flag.filter(|b| !b.trim().is_empty()) {
        return Ok(Some(b.to_string()));
    }
    Ok(properties::global()?
        .get("bootstrap.servers")
        .map(str::to_string))
}

/// The configured brokers, or an embedded broker when none is configured. The contract's
/// topics are created only when `create` says so (the fleet, the demo, the tools): the
/// console keeps its hands off a cluster it did not create unless told otherwise. Keep the
/// returned broker alive as long as any client uses it.
pub async fn brokers_or_embedded(
    configured: Option<&str>,
    create: Option<topics::Creation>,
) -> anyhow::Result<(String, Option<embedded::EmbeddedBroker>)> {
    let props = properties::global()?;
    let all = crate::topics::all_topics();
    match configured_brokers(configured)? {
        Some(b) => {
            if !props.is_empty() {
                tracing::info!(brokers = %b, properties = ?props.masked(), "Kafka client properties");
            }
            if let Some(c) = create {
                topics::ensure(&b, &all, c).await?;
            }
            Ok((b, None))
        }
        None => {
            let protocol = props.security_protocol();
            if protocol != "PLAINTEXT" {
                anyhow::bail!(
                    "security.protocol is {protocol} but no broker is configured: set KAFKA_BROKERS (or bootstrap.servers)"
                );
            }
            let partitions = create.unwrap_or_default().partitions;
            let embedded = embedded::EmbeddedBroker::start(&all, partitions)?;
            let b = embedded.bootstrap_servers().to_string();
            tracing::warn!(brokers = %b, "KAFKA_BROKERS unset: using an in-memory embedded broker (not durable)");
            Ok((b, Some(embedded)))
        }
    }
}
