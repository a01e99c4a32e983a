//! Replay proposals: which dead letters a replay would take and where they would go,
//! computed read-only from `dead_letters`. The result, per target topic, is the exact list
//! of dead-letter ids the card counts — what a confirm replays, no more — plus the filter
//! that found them (shown, not run). Nothing here sends or changes anything.

use crate::read_model::like_escape;
use crate::replay::filter::{push_filter, ERROR_LABEL};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::{Postgres, QueryBuilder, Transaction};
use switchyard_app::assistant::{ProposalGroup, ReplayProposal};
use switchyard_app::ops::DeadLetterFilter;

/// The tools' dead-letter scope: a [`DeadLetterFilter`] plus `service`, which widens an
/// exact topic to every topic of one service (`payment` → `payment.*`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scope {
    pub topic: Option<String>,
    pub service: Option<String>,
    pub error: Option<String>,
    pub status: Option<String>,
    pub key: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl Scope {
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "topic": self.topic, "service": self.service, "error": self.error,
            "status": self.status, "key": self.key,
            "since": self.since.map(super::ts), "until": self.until.map(super::ts),
        });
        if let Some(o) = v.as_object_mut() {
            o.retain(|_, x| !x.is_null());
        }
        v
    }

    /// The DLQ page's filter for one target topic of this scope.
    fn filter_for(&self, topic: &str) -> DeadLetterFilter {
        self.filter(Some(topic.to_string()))
    }

    fn filter(&self, topic: Option<String>) -> DeadLetterFilter {
        DeadLetterFilter {
            topic,
            error: self.error.clone(),
            status: self.status.clone(),
            key: self.key.clone(),
            since: self.since,
            until: self.until,
            dlq_topic: None,
            payload: None,
        }
    }
}

/// Matching dead letters counted by original topic, error and status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub topic: String,
    pub error: String,
    pub status: String,
    pub count: i64,
}

/// ` AND …` for the scope's `service` (every topic `service.*`).
fn push_service(q: &mut QueryBuilder<'_, Postgres>, s: &Scope) {
    if let Some(service) = s
        .service
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        q.push(" AND d.original_topic LIKE ")
            .push_bind(format!("{}.%", like_escape(service)));
    }
}

/// Longest error label a tool result carries.
const ERROR_LABEL_CHARS: usize = 160;

/// Matching dead letters counted by original topic, error and status. The `WHERE` clause
/// is the DLQ page's own ([`push_filter`]) over [`Scope::filter_for`] each topic, so the
/// figures are those of the job a confirmed proposal starts; `service` only chooses the
/// topics.
pub async fn count_groups(
    tx: &mut Transaction<'static, Postgres>,
    s: &Scope,
) -> sqlx::Result<Vec<Group>> {
    let mut q = QueryBuilder::new(format!(
        "SELECT d.original_topic, {ERROR_LABEL}, d.status, count(*) FROM dead_letters d WHERE true"
    ));
    push_filter(&mut q, &s.filter(s.topic.clone()));
    push_service(&mut q, s);
    q.push(" GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1, 2 LIMIT 200");
    let rows: Vec<(String, String, String, i64)> = q.build_query_as().fetch_all(&mut **tx).await?;
    Ok(rows
        .into_iter()
        .map(|(topic, error, status, count)| Group {
            topic,
            error: error.chars().take(ERROR_LABEL_CHARS).collect(),
            status,
            count,
        })
        .collect())
}

/// Most dead letters one proposal card carries (and a confirm replays).
pub const MAX_PROPOSAL: i64 = 5_000;

/// One proposal per original topic the scope matches: exactly which dead letters (oldest
/// first, as a job sends them) and their figures by error, computed from those same rows,
/// so the card, its count and what a confirm replays cannot disagree. Beyond
/// [`MAX_PROPOSAL`] rows, the rest are counted in `more`, not carried.
pub async fn dry_run(
    tx: &mut Transaction<'static, Postgres>,
    s: &Scope,
) -> sqlx::Result<Vec<ReplayProposal>> {
    let mut q = QueryBuilder::new(format!(
        "SELECT d.id, d.original_topic, {ERROR_LABEL}, count(*) OVER ()
         FROM dead_letters d WHERE true"
    ));
    push_filter(&mut q, &s.filter(s.topic.clone()));
    push_service(&mut q, s);
    q.push(" ORDER BY d.failed_at, d.id LIMIT ")
        .push_bind(MAX_PROPOSAL);
    let rows: Vec<(i64, String, String, i64)> = q.build_query_as().fetch_all(&mut **tx).await?;
    let matched = rows.first().map(|r| r.3).unwrap_or(0);
    let mut out: Vec<ReplayProposal> = Vec::new();
    for (id, topic, error, _) in rows {
        let i = match out
            .iter()
            .position(|p| p.filter.topic.as_deref() == Some(topic.as_str()))
        {
            Some(i) => i,
            None => {
                out.push(ReplayProposal {
                    filter: s.filter_for(&topic),
                    total: 0,
                    groups: Vec::new(),
                    ids: Vec::new(),
                    more: 0,
                });
                out.len() - 1
            }
        };
        let p = &mut out[i];
        p.total += 1;
        p.ids.push(id);
        let error: String = error.chars().take(ERROR_LABEL_CHARS).collect();
        match p.groups.iter_mut().find(|x| x.error == error) {
            Some(x) => x.count += 1,
            None => p.groups.push(ProposalGroup {
                topic: topic.clone(),
                error,
                count: 1,
            }),
        }
    }
    let carried: i64 = out.iter().map(|p| p.total).sum();
    if let Some(last) = out.last_mut() {
        last.more = matched - carried;
    }
    for p in &mut out {
        p.groups
            .sort_by(|a, b| b.count.cmp(&a.count).then(a.error.cmp(&b.error)));
    }
    if out.is_empty() {
        // Nothing matches: still show what was asked, with zero.
        if let Some(t) = &s.topic {
            out.push(ReplayProposal {
                filter: s.filter_for(t),
                total: 0,
                groups: Vec::new(),
                ids: Vec::new(),
                more: 0,
            });
        }
    }
    Ok(out)
}
