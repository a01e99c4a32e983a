//! How every Switchyard client connects to Kafka: client configuration (with the user's own
//! librdkafka properties: TLS, SASL), the producer, topics created when asked, and the
//! embedded broker used when no broker is configured. The console, the fleet and the tools
//! all connect through here.

pub mod diagnosis;
pub mod embedded;
pub mod properties;
pub mod topic_ids;
pub mod topics;

use rdkafka::config::ClientConfig;

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
