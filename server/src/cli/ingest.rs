//! `switchyard ingest`: the Kafka ingest alone (no web server), until Ctrl-C or SIGTERM.
//! Also where the ingest settings are made from configuration, for `serve` too.

use crate::config::{Db, IngestConfig, RetentionConfig};
use crate::ingest::consumer::{self, IngestSettings};
use std::time::Duration;
use switchyard_contract::kafka;
use switchyard_contract::process::{self, Common};

#[derive(clap::Args)]
pub struct IngestArgs {
    #[command(flatten)]
    db: Db,
    #[command(flatten)]
    ingest: IngestConfig,
    #[command(flatten)]
    retention: RetentionConfig,
}

pub async fn run(common: &Common, args: IngestArgs) -> anyhow::Result<()> {
    let stop = process::stop_on_signal();
    let pool = crate::db::connect(&args.db.database_url).await?;
    args.ingest.topic_lists()?; // a bad pattern is said before connecting anywhere
    let (brokers, _embedded) = kafka::brokers_or_embedded(
        common.kafka_brokers.as_deref(),
        args.ingest.topic_creation(),
    )
    .await?;
    let settings = settings(&brokers, &args.db, &args.ingest)?;
    let retention = crate::retention::start(&pool, args.retention, stop.clone()).await?;
    let ingested = consumer::run(pool, settings, stop).await;
    retention.abort();
    ingested
}

/// The consumer's settings from configuration.
pub fn settings(brokers: &str, db: &Db, ingest: &IngestConfig) -> anyhow::Result<IngestSettings> {
    Ok(IngestSettings {
        brokers: brokers.to_string(),
        database_url: db.database_url.clone(),
        group_id: ingest.group_id.clone(),
        topics: ingest.topic_lists()?,
        metadata_refresh_ms: ingest.topic_refresh_ms,
        log_check_secs: ingest.log_check_secs,
        log_policy: crate::ingest::log_incidents::Policy {
            on_replaced: ingest.on_log_replaced,
            on_expired: ingest.on_records_expired,
        },
        batch_max: ingest.batch_max.max(1),
        batch_wait: Duration::from_millis(ingest.batch_wait_ms),
        session_timeout_ms: ingest.session_timeout_ms,
        lanes: ingest.lanes.max(1),
    })
}
