//! Creates the contract's topics when they are missing, for whoever is allowed to: the
//! fleet, the demo and the tools always; the console only when `SWITCHYARD_CREATE_TOPICS`
//! says so (a console pointed at a team's cluster must not create topics there). Some
//! brokers (Nisshi) never auto-create topics.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use std::collections::HashSet;
use std::time::Duration;

/// Partitions per contract topic: two console instances share them evenly, and each
/// instance's ingest lanes (partition number modulo lanes, two by default) split its share
/// evenly too.
pub const DEFAULT_PARTITIONS: i32 = 4;

/// How topics are created: partitions and replication factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Creation {
    pub partitions: i32,
    pub replication: i32,
}

impl Creation {
    pub fn with_partitions(partitions: i32) -> Creation {
        Creation {
            partitions,
            ..Creation::default()
        }
    }
}

impl Default for Creation {
    fn default() -> Self {
        Creation {
            partitions: DEFAULT_PARTITIONS,
            replication: 1,
        }
    }
}

/// Creates each topic that does not exist yet; existing topics are left as they are.
/// When all exist, no admin request is made (brokers without admin APIs are fine then).
pub async fn ensure(brokers: &str, topics: &[String], creation: Creation) -> anyhow::Result<()> {
    let missing = {
        let (brokers, topics) = (brokers.to_string(), topics.to_vec());
        tokio::task::spawn_blocking(move || missing_topics(&brokers, &topics)).await??
    };
    if missing.is_empty() {
        return Ok(());
    }
    tracing::info!(count = missing.len(), "creating missing topics");
    let admin: AdminClient<DefaultClientContext> = super::client_config(brokers).create()?;
    let new: Vec<NewTopic> = missing
        .iter()
        .map(|t| {
            NewTopic::new(
                t,
                creation.partitions,
                TopicReplication::Fixed(creation.replication),
            )
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin.create_topics(&new, &opts).await?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => anyhow::bail!("cannot create topic {topic}: {code}"),
        }
    }
    Ok(())
}

/// The topics of `wanted` that the cluster does not have (blocking metadata request).
fn missing_topics(brokers: &str, wanted: &[String]) -> anyhow::Result<Vec<String>> {
    let client: BaseConsumer = super::client_config(brokers).create()?;
    let metadata = client.fetch_metadata(None, Duration::from_secs(10))?;
    let existing: HashSet<&str> = metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| t.name())
        .collect();
    Ok(wanted
        .iter()
        .filter(|t| !existing.contains(t.as_str()))
        .cloned()
        .collect())
}
