//! How every Switchyard client connects to Kafka: client configuration, the producer, the
//! contract topics created when missing, and the embedded broker used when `KAFKA_BROKERS`
//! is unset. The console, the fleet and the tools all connect through here.

pub mod embedded;
pub mod topics;

use rdkafka::config::ClientConfig;

/// Base client configuration for every producer, consumer and admin client.
pub fn client_config(brokers: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", brokers)
        .set("client.id", "switchyard")
        .set("socket.keepalive.enable", "true")
        .set("log_level", "4");
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

/// The configured brokers (the contract's topics ensured), or an embedded broker when none
/// is configured. Keep the returned broker alive as long as any client uses it.
pub async fn brokers_or_embedded(
    configured: Option<&str>,
) -> anyhow::Result<(String, Option<embedded::EmbeddedBroker>)> {
    let all = crate::topics::all_topics();
    match configured {
        Some(b) => {
            topics::ensure(b, &all, topics::DEFAULT_PARTITIONS).await?;
            Ok((b.to_string(), None))
        }
        None => {
            let embedded = embedded::EmbeddedBroker::start(&all, topics::DEFAULT_PARTITIONS)?;
            let b = embedded.bootstrap_servers().to_string();
            tracing::warn!(brokers = %b, "KAFKA_BROKERS unset: using an in-memory embedded broker (not durable)");
            Ok((b, Some(embedded)))
        }
    }
}
