//! The admin page's server side ([`AdminApi`] over PostgreSQL): users through
//! [`auth::users`](crate::auth::users), the kill-switch through
//! [`auth::settings`](crate::auth::settings), fleet faults through the fleet's fault
//! interface (the view `fleet.fault_settings` and the function `fleet.set_fault`, when the
//! fleet shares this database; never its tables), what the console reads from Kafka
//! ([`Sources`]), and the audit log with keyset paging.
//! Every change writes its audit row in the same transaction as the change.

use crate::audit::{self, Actor};
use crate::auth::{settings, users};
use crate::read_model::like_escape;
use crate::read_model::sources::Sources;
use serde_json::json;
use sqlx::PgPool;
use switchyard_app::admin::{
    AdminApi, AdminOverview, AuditFilter, AuditView, FaultView, Resume, UserView,
};
use switchyard_app::auth::{Principal, Role};
use switchyard_app::ops::OpsError;

pub struct PgAdmin {
    pool: PgPool,
    sources: Option<Sources>,
}

impl PgAdmin {
    pub fn new(pool: PgPool) -> Self {
        PgAdmin {
            pool,
            sources: None,
        }
    }

    /// With the Kafka section: what the console reads and how it connects.
    pub fn with_sources(pool: PgPool, sources: Sources) -> Self {
        PgAdmin {
            pool,
            sources: Some(sources),
        }
    }

    /// The fleet's faults through its fault interface (`fleet.fault_settings`), or `None`
    /// when the fleet keeps its schema in another database.
    async fn faults(&self) -> sqlx::Result<Option<Vec<FaultView>>> {
        let exists: bool =
            sqlx::query_scalar("SELECT to_regclass('fleet.fault_settings') IS NOT NULL")
                .fetch_one(&self.pool)
                .await?;
        if !exists {
            return Ok(None);
        }
        let rows: Vec<(String, String, f64)> =
            sqlx::query_as("SELECT name, description, value FROM fleet.fault_settings")
                .fetch_all(&self.pool)
                .await?;
        Ok(Some(
            rows.into_iter()
                .map(|(name, description, value)| FaultView {
                    name,
                    description,
                    value,
                })
                .collect(),
        ))
    }
}

fn actor(p: &Principal) -> Actor {
    Actor::new(p.name.clone(), p.source.clone())
}

/// Filter text: trimmed, empty meaning "any".
fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

#[async_trait::async_trait]
impl AdminApi for PgAdmin {
    async fn overview(&self) -> Result<AdminOverview, OpsError> {
        let users = users::list(&self.pool)
            .await?
            .into_iter()
            .map(|u| UserView {
                role: u.role.parse().unwrap_or(Role::Viewer),
                name: u.name,
                disabled: u.disabled,
                created_at: u.created_at,
            })
            .collect();
        Ok(AdminOverview {
            users,
            faults: self.faults().await?,
            writes_enabled: settings::writes_enabled(&self.pool).await?,
            saga_actions_enabled: settings::saga_actions_enabled(&self.pool).await?,
            log_incidents: crate::read_model::console::open_log_incidents(&self.pool).await?,
            kafka: match &self.sources {
                Some(s) => Some(s.view(&self.pool).await?),
                None => None,
            },
        })
    }

    async fn audit(&self, filter: AuditFilter, limit: i64) -> Result<Vec<AuditView>, OpsError> {
        // Every filter value is a bound parameter; LIKE wildcards in it are escaped.
        let like = |v: Option<&str>| v.map(|s| format!("%{}%", like_escape(s)));
        let rows: Vec<(
            i64,
            chrono::DateTime<chrono::Utc>,
            String,
            String,
            Option<String>,
            serde_json::Value,
            Option<String>,
        )> = sqlx::query_as(
            "SELECT id, at, actor, action, target, detail, source FROM audit_log
                 WHERE ($1::text IS NULL OR actor ILIKE $1)
                   AND ($2::text IS NULL OR action ILIKE $2)
                   AND ($3::text IS NULL OR target ILIKE $3)
                   AND ($4::bigint IS NULL OR id < $4)
                 ORDER BY id DESC LIMIT $5",
        )
        .bind(like(text(&filter.actor)))
        .bind(like(text(&filter.action)))
        .bind(like(text(&filter.target)))
        .bind(filter.before)
        .bind(limit.clamp(1, 500))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, at, actor, action, target, detail, source)| AuditView {
                    id,
                    at,
                    actor,
                    action,
                    target,
                    detail: detail.to_string(),
                    source,
                },
            )
            .collect())
    }

    async fn add_user(
        &self,
        by: &Principal,
        name: &str,
        role: Role,
        password: &str,
    ) -> Result<(), OpsError> {
        Ok(users::add(&self.pool, &actor(by), name, role, password).await?)
    }

    async fn update_user(
        &self,
        by: &Principal,
        name: &str,
        role: Option<Role>,
        disabled: Option<bool>,
        password: Option<&str>,
    ) -> Result<(), OpsError> {
        Ok(users::update(&self.pool, &actor(by), name, role, disabled, password).await?)
    }

    async fn set_writes(&self, by: &Principal, enabled: bool) -> Result<(), OpsError> {
        Ok(settings::set_writes_enabled(&self.pool, &actor(by), enabled).await?)
    }

    async fn resolve_log_incident(
        &self,
        by: &Principal,
        id: i64,
        note: &str,
        resume: Option<Resume>,
    ) -> Result<(), OpsError> {
        let mut tx = self.pool.begin().await?;
        type Open = (
            String,
            String,
            i32,
            String,
            i64,
            i64,
            i64,
            bool,
            Option<String>,
        );
        let open: Option<Open> = sqlx::query_as(
            "SELECT group_id, topic, kafka_partition, kind, stored_offset, log_start, log_end,
                    paused, topic_id
               FROM log_incidents WHERE id = $1 AND resolved_at IS NULL FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((group, topic, partition, kind, stored, log_start, log_end, paused, topic_id)) =
            open
        else {
            return Err(format!("no open log incident #{id}").into());
        };
        let place = format!("{topic}/{partition}");
        let mut details = json!({ "incident": id, "kind": kind, "stored_offset": stored,
            "log_start": log_start, "log_end": log_end, "note": note });
        let resolution = match (paused, resume) {
            (false, None) => note.to_string(),
            (false, Some(_)) => {
                return Err(format!("incident #{id} holds no partition paused: there is nothing to resume").into())
            }
            (true, None) => {
                return Err(format!("incident #{id} holds {place} paused: choose to resume from the log's start or end, or to keep it paused").into())
            }
            (true, Some(Resume::KeepPaused)) => {
                sqlx::query("UPDATE log_incidents SET action = $2 WHERE id = $1")
                    .bind(id)
                    .bind(format!("kept paused by {}: {note}", by.name))
                    .execute(&mut *tx)
                    .await?;
                audit::record(&mut *tx, &actor(by), "log_incident_kept_paused", Some(&place), details)
                    .await?;
                tx.commit().await?;
                return Ok(());
            }
            (true, Some(r)) => {
                let from = if r == Resume::FromStart { log_start } else { log_end };
                let incarnation = crate::ingest::log_incidents::resume(
                    &mut tx,
                    &group,
                    &topic,
                    partition,
                    &kind,
                    from,
                    topic_id.as_deref(),
                )
                .await?;
                let Some(incarnation) = incarnation else {
                    return Err(format!("{place} is no longer paused").into());
                };
                details["resume"] = json!(r);
                details["from_offset"] = json!(from);
                details["incarnation"] = json!(incarnation);
                let skipped = if r == Resume::FromEnd && log_end > log_start {
                    format!("; offsets {log_start}..{log_end} skipped")
                } else {
                    String::new()
                };
                format!("{note} (resumed from offset {from}, incarnation {incarnation}{skipped})")
            }
        };
        sqlx::query(
            "UPDATE log_incidents SET resolved_at = now(), resolved_by = $2, resolution = $3,
                    paused = false
              WHERE id = $1",
        )
        .bind(id)
        .bind(&by.name)
        .bind(&resolution)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut *tx,
            &actor(by),
            "log_incident_resolved",
            Some(&place),
            details,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_fault(&self, by: &Principal, name: &str, value: f64) -> Result<(), OpsError> {
        if self.faults().await?.is_none() {
            return Err("the fleet does not share this database".into());
        }
        let mut tx = self.pool.begin().await?;
        // The fleet's one way in (`fleet.set_fault`); an unknown name is SQLSTATE 22023.
        let set = sqlx::query("SELECT fleet.set_fault($1, $2)")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await;
        match set {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("22023") => {
                return Err(format!("unknown fault {name:?}").into());
            }
            other => other?,
        };
        audit::record(
            &mut *tx,
            &actor(by),
            "fault_set",
            Some(name),
            json!({ "value": value }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
