//! The admin contract's data: what the pages show, shared by both compile targets.

use crate::auth::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An admin's decision on a partition a log incident holds paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resume {
    /// Read the log from its start (a replaced log as a new incarnation; past a gap).
    FromStart,
    /// Read the log from its end as it was when the incident was found, skipping the rest.
    FromEnd,
    /// Keep the partition paused (the decision is audited; the incident stays open).
    KeepPaused,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultView {
    pub name: String,
    pub description: String,
    pub value: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminOverview {
    pub users: Vec<UserView>,
    /// `None` when the fleet does not share this database.
    pub faults: Option<Vec<FaultView>>,
    pub writes_enabled: bool,
    /// What the console reads from Kafka (`None` for an instance that does not ingest).
    pub kafka: Option<KafkaView>,
    /// Partitions whose log changed under ingest, not yet resolved.
    pub log_incidents: Vec<crate::console::LogIncidentView>,
    /// The saga actions operators may send (the others are switched off).
    #[serde(default)]
    pub saga_actions_enabled: Vec<crate::saga::SagaAction>,
}

/// The cluster, how the console connects to it, and what each topic setting matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaView {
    pub brokers: String,
    pub security_protocol: String,
    /// The user's librdkafka properties, secrets shown as `******`.
    pub properties: Vec<(String, String)>,
    /// One row per configured entry (name or `^pattern`), events first.
    pub entries: Vec<TopicEntryView>,
    /// Why the cluster's topics could not be listed, if they could not.
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicEntryView {
    /// `events` or `dead letters`.
    pub kind: String,
    pub entry: String,
    pub topics: Vec<TopicLagView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicLagView {
    pub topic: String,
    pub partitions: i32,
    /// Records not yet stored, over all partitions (`None`: the broker did not say).
    pub lag: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditView {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// The detail as compact JSON text.
    pub detail: String,
    pub source: Option<String>,
}

/// Narrows the audit log; empty strings mean any. `before` pages back by id (keyset).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub before: Option<i64>,
}

pub const AUDIT_PAGE: i64 = 100;
