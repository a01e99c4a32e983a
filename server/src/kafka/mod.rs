//! Kafka plumbing shared by ingest, the fleet and the tools: client configuration, the
//! contract topics, and the embedded broker used when `KAFKA_BROKERS` is unset.

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
