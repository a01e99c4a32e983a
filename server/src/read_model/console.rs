//! The queries behind the overview, breakers, order search and order time travel: the
//! server's implementation of the UI's [`ConsoleApi`] over PostgreSQL (and, for ingest
//! lag, the ends of the broker's logs: [`super::log_ends`]).
//!
//! Every value from a request reaches SQL as a bound parameter; the statement text is
//! built only from this module's constants.

use super::log_ends::LogEnds;
use super::orders::{order_row, OrderTuple, ORDER_COLUMNS};
use crate::fanout::LiveHub;
use crate::ingest::project::{order_deltas, saga_step};
use crate::ingest::verify::order_events;
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder};
use std::collections::BTreeMap;
use switchyard_app::console::{
    bin, filled, percentile, BatchLatency, BreakerAt, BreakerView, BreakersData, ConsoleApi,
    FailureContext, Kpis, LogGap, LogIncidentView, OrderAsOf, OrderCursor, OrderFilter,
    OrdersPageData, OverviewData, PartitionLag, Range, Series, TickerItem, TransitionView,
};
use switchyard_app::ops::OpsError;
use switchyard_app::states::{BreakerState, OrderStatus};

/// Saga-duration percentiles are taken over at most this many of the latest finished
/// sagas in the window, so the overview stays fast at any volume.
pub const DURATION_SAMPLE: i64 = 5_000;
/// A text search's order-id prefix matches at most this many orders.
pub const PREFIX_MATCHES: i64 = 10_000;

#[derive(Clone)]
pub struct PgConsole {
    pool: PgPool,
    log_ends: LogEnds,
    hub: Option<LiveHub>,
}

impl PgConsole {
    /// Without a broker (lag shows as unknown) and without batch latencies.
    pub fn new(pool: PgPool) -> Self {
        PgConsole {
            pool,
            log_ends: LogEnds::none(),
            hub: None,
        }
    }

    pub fn with_live(pool: PgPool, log_ends: LogEnds, hub: LiveHub) -> Self {
        PgConsole {
            pool,
            log_ends,
            hub: Some(hub),
        }
    }
}

fn window(range: Range) -> (DateTime<Utc>, DateTime<Utc>) {
    let to = Utc::now();
    (to - TimeDelta::minutes(range.minutes()), to)
}

const OUTCOMES: [&str; 4] = [
    "order.created",
    "order.completed",
    "order.failed",
    "order.cancelled",
];

impl PgConsole {
    async fn throughput(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket: i64,
    ) -> sqlx::Result<Vec<Series>> {
        throughput(&self.pool, from, to, bucket).await
    }

    async fn durations(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> sqlx::Result<Vec<(DateTime<Utc>, f64)>> {
        durations(&self.pool, from, to).await
    }

    async fn dlq_inflow(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket: i64,
    ) -> sqlx::Result<Series> {
        dlq_inflow(&self.pool, from, to, bucket).await
    }

    async fn transitions(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> sqlx::Result<Vec<TransitionView>> {
        transitions(&self.pool, from, to).await
    }

    async fn ticker(&self) -> sqlx::Result<Vec<TickerItem>> {
        let rows: Vec<(i64, String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT id, event_type, aggregate_id, occurred_at FROM events ORDER BY id DESC LIMIT 15",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, event_type, aggregate_id, occurred_at)| TickerItem {
                id,
                event_type,
                aggregate_id,
                occurred_at,
            })
            .collect())
    }

    async fn counts(&self) -> sqlx::Result<(i64, i64, i64, i64)> {
        counts(&self.pool).await
    }

    /// Open log incidents (ingest's `log_incidents`), newest first.
    pub async fn log_incidents(&self) -> sqlx::Result<Vec<LogIncidentView>> {
        open_log_incidents(&self.pool).await
    }
}

/// Open log incidents, newest first (the overview's banner, the admin page's list).
pub async fn open_log_incidents(pool: &PgPool) -> sqlx::Result<Vec<LogIncidentView>> {
    type Row = (
        i64,
        String,
        String,
        i32,
        i64,
        i64,
        i64,
        DateTime<Utc>,
        Option<String>,
        bool,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, kind, topic, kafka_partition, stored_offset, log_start, log_end, detected_at,
                action, paused
             FROM log_incidents WHERE resolved_at IS NULL ORDER BY detected_at DESC LIMIT 50",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                kind,
                topic,
                partition,
                stored,
                log_start,
                log_end,
                detected_at,
                action,
                paused,
            )| {
                LogIncidentView {
                    id,
                    kind,
                    topic,
                    partition,
                    stored,
                    log_start,
                    log_end,
                    detected_at,
                    action,
                    paused,
                }
            },
        )
        .collect())
}

impl PgConsole {
    /// Stored positions with the broker's high watermarks (unknown if it cannot be asked).
    pub async fn lag(&self) -> sqlx::Result<Vec<PartitionLag>> {
        let rows: Vec<(String, String, i32, i64, DateTime<Utc>)> = sqlx::query_as(
            "SELECT group_id, topic, kafka_partition, next_offset, updated_at
             FROM consumer_positions ORDER BY group_id, topic, kafka_partition LIMIT 500",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut lag: Vec<PartitionLag> = rows
            .into_iter()
            .map(
                |(group_id, topic, partition, next_offset, updated_at)| PartitionLag {
                    group_id,
                    topic,
                    partition,
                    next_offset,
                    high_watermark: None,
                    updated_at,
                },
            )
            .collect();
        let wanted: Vec<(String, i32)> =
            lag.iter().map(|l| (l.topic.clone(), l.partition)).collect();
        let ends = self.log_ends.of(&wanted).await;
        for (l, end) in lag.iter_mut().zip(ends) {
            l.high_watermark = end;
        }
        Ok(lag)
    }
}

/// Per-bucket counts of the order outcomes, from the per-minute rollups.
pub async fn throughput(
    db: impl sqlx::PgExecutor<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: i64,
) -> sqlx::Result<Vec<Series>> {
    let rows: Vec<(DateTime<Utc>, String, i64)> = sqlx::query_as(
        "SELECT date_bin(make_interval(secs => $3), minute, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
                kind, sum(count)::int8
         FROM minute_rollups
         WHERE kind = ANY($4) AND minute >= $1 AND minute < $2
         GROUP BY 1, 2",
    )
    .bind(bin(from, 60))
    .bind(to)
    .bind(bucket as f64)
    .bind(OUTCOMES.map(String::from).to_vec())
    .fetch_all(db)
    .await?;
    Ok(OUTCOMES
        .iter()
        .map(|kind| {
            let values: BTreeMap<_, _> = rows
                .iter()
                .filter(|r| r.1 == *kind)
                .map(|r| (r.0, r.2 as f64))
                .collect();
            filled(kind.trim_start_matches("order."), from, to, bucket, &values)
        })
        .collect())
}

/// (finished at, duration ms) of the latest finished sagas in the window.
pub async fn durations(
    db: impl sqlx::PgExecutor<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<(DateTime<Utc>, f64)>> {
    sqlx::query_as(
        "SELECT status_at, (extract(epoch FROM status_at - created_at) * 1000)::float8
         FROM orders
         WHERE status_rank = 3 AND status_at >= $1 AND status_at < $2 AND created_at IS NOT NULL
         ORDER BY status_at DESC LIMIT $3",
    )
    .bind(from)
    .bind(to)
    .bind(DURATION_SAMPLE)
    .fetch_all(db)
    .await
}

pub async fn dlq_inflow(
    db: impl sqlx::PgExecutor<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: i64,
) -> sqlx::Result<Series> {
    let rows: Vec<(DateTime<Utc>, i64)> = sqlx::query_as(
        "SELECT date_bin(make_interval(secs => $3), failed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
                count(*)
         FROM dead_letters WHERE failed_at >= $1 AND failed_at < $2 GROUP BY 1",
    )
    .bind(from)
    .bind(to)
    .bind(bucket as f64)
    .fetch_all(db)
    .await?;
    let values = rows.into_iter().map(|(t, n)| (t, n as f64)).collect();
    Ok(filled("dead letters", from, to, bucket, &values))
}

/// (DLQ depth, open breakers, breakers, quarantined)
pub async fn counts(db: impl sqlx::PgExecutor<'_>) -> sqlx::Result<(i64, i64, i64, i64)> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM dead_letters WHERE status NOT IN ('replayed', 'discarded')),
                (SELECT count(*) FROM breakers
                  WHERE upper(state) IN ('OPEN', 'HALF_OPEN', 'FORCED_OPEN')),
                (SELECT count(*) FROM breakers),
                (SELECT count(*) FROM quarantine)",
    )
    .fetch_one(db)
    .await
}

/// The overview's KPIs from its queries' results over a window of `minutes`: the overview
/// page's figures and the assistant's `kpis` tool, computed one way.
pub fn kpis_of(
    throughput: &[Series],
    samples: &[(DateTime<Utc>, f64)],
    dlq_inflow: &Series,
    counts: (i64, i64, i64, i64),
    minutes: f64,
) -> Kpis {
    let total = |name: &str| {
        throughput
            .iter()
            .find(|s| s.name == name)
            .map_or(0.0, Series::total)
    };
    let finished = total("completed") + total("failed") + total("cancelled");
    let values: Vec<f64> = samples.iter().map(|s| s.1).collect();
    let (dlq_depth, open_breakers, breakers, _quarantined) = counts;
    Kpis {
        orders_per_min: total("created") / minutes.max(1.0),
        completion_rate: (finished > 0.0).then(|| total("completed") / finished),
        saga_p50_ms: percentile(&values, 50.0),
        saga_p95_ms: percentile(&values, 95.0),
        sagas_measured: values.len() as i64,
        dlq_depth,
        dlq_inflow: dlq_inflow.total() as i64,
        open_breakers,
        breakers,
    }
}

/// p50 and p95 of `values` per bucket of the window.
fn percentile_series(
    samples: &[(DateTime<Utc>, f64)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: i64,
) -> Vec<Series> {
    let mut by_bucket: BTreeMap<DateTime<Utc>, Vec<f64>> = BTreeMap::new();
    for (t, v) in samples {
        by_bucket.entry(bin(*t, bucket)).or_default().push(*v);
    }
    [("p50", 50.0), ("p95", 95.0)]
        .iter()
        .map(|(name, p)| {
            let values: BTreeMap<_, _> = by_bucket
                .iter()
                .filter_map(|(t, vs)| percentile(vs, *p).map(|v| (*t, v)))
                .collect();
            // Buckets without a finished saga have no duration: leave them out.
            let mut s = filled(name, from, to, bucket, &values);
            s.points.retain(|(t, _)| values.contains_key(t));
            s
        })
        .collect()
}

/// Breaker transitions in [from, to), oldest first (the newest 2,000 of them): the
/// breakers page's history and the assistant's `breaker_history`.
pub async fn transitions(
    db: impl sqlx::PgExecutor<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<TransitionView>> {
    let rows: Vec<(DateTime<Utc>, String, String, String, String)> = sqlx::query_as(
        "SELECT at, service, breaker, from_state, to_state FROM (
            SELECT at, id, service, breaker, from_state, to_state FROM breaker_transitions
            WHERE at >= $1 AND at < $2 ORDER BY at DESC, id DESC LIMIT 2000) t
         ORDER BY at, id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(at, service, breaker, from_state, to_state)| TransitionView {
                at,
                service,
                breaker,
                from_state: BreakerState::from_db(&from_state),
                to_state: BreakerState::from_db(&to_state),
            },
        )
        .collect())
}

/// Every breaker with its current state, latest metrics and last transition, by service
/// and name: the breakers page's table and the assistant's `breaker_states`.
pub async fn breaker_views(db: impl sqlx::PgExecutor<'_>) -> sqlx::Result<Vec<BreakerView>> {
    type Row = (
        String,
        String,
        String,
        DateTime<Utc>,
        Option<f64>,
        Option<f64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<DateTime<Utc>>,
        Option<String>,
        Option<String>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT b.service, b.breaker, b.state, b.state_at, b.failure_rate, b.slow_call_rate,
                b.calls, b.failures, b.slow_calls, b.not_permitted, b.metrics_at,
                t.from_state, t.to_state, t.at
         FROM breakers b
         LEFT JOIN LATERAL (
            SELECT from_state, to_state, at FROM breaker_transitions t
            WHERE t.service = b.service AND t.breaker = b.breaker
            ORDER BY at DESC, id DESC LIMIT 1) t ON true
         ORDER BY b.service, b.breaker LIMIT 1000",
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| BreakerView {
            last_transition: match (r.11, r.12, r.13) {
                (Some(from_state), Some(to_state), Some(at)) => Some(TransitionView {
                    at,
                    service: r.0.clone(),
                    breaker: r.1.clone(),
                    from_state: BreakerState::from_db(&from_state),
                    to_state: BreakerState::from_db(&to_state),
                }),
                _ => None,
            },
            service: r.0,
            breaker: r.1,
            state: BreakerState::from_db(&r.2),
            state_at: r.3,
            failure_rate: r.4,
            slow_call_rate: r.5,
            calls: r.6,
            failures: r.7,
            slow_calls: r.8,
            not_permitted: r.9,
            metrics_at: r.10,
        })
        .collect())
}

/// The orders list's filters as SQL conditions, every value a bound parameter (the cursor
/// aside): the one filter the list and saga batches (`saga_actions::batch`) select by.
pub fn push_order_filter(qb: &mut QueryBuilder<'_, Postgres>, f: &OrderFilter) {
    if let Some(status) = &f.status {
        qb.push(" AND status = ").push_bind(status.clone());
    }
    if let Some(step) = &f.step {
        qb.push(" AND current_step = ").push_bind(step.clone());
    }
    if let Some(q) = &f.q {
        qb.push(" AND order_id IN (SELECT order_id FROM orders WHERE order_id = ")
            .push_bind(q.clone())
            .push(" OR customer_id = ")
            .push_bind(q.clone())
            .push(" UNION ALL (SELECT order_id FROM orders WHERE order_id LIKE ")
            .push_bind(like_prefix(q))
            .push(" ORDER BY order_id LIMIT ")
            .push_bind(PREFIX_MATCHES)
            // An event whose correlation id is its own aggregate id names an order
            // matched by id above; the index holds only the others (migration 50).
            .push(") UNION ALL SELECT aggregate_id FROM events WHERE correlation_id = ")
            .push_bind(q.clone())
            .push(" AND correlation_id <> aggregate_id)");
    }
    if let Some(from) = f.from {
        qb.push(" AND updated_at >= ").push_bind(from);
    }
    if let Some(to) = f.to {
        qb.push(" AND updated_at < ").push_bind(to);
    }
}

/// `text%` with `text` taken literally: a LIKE prefix pattern.
pub fn like_prefix(text: &str) -> String {
    super::like_escape(text) + "%"
}

#[async_trait]
impl ConsoleApi for PgConsole {
    async fn overview(&self, range: Range) -> Result<OverviewData, OpsError> {
        let (from, to) = window(range);
        let bucket = range.bucket_secs();
        let (throughput, samples, dlq_inflow, transitions, ticker, counts, lag, log_incidents) = tokio::try_join!(
            self.throughput(from, to, bucket),
            self.durations(from, to),
            self.dlq_inflow(from, to, bucket),
            self.transitions(from, to),
            self.ticker(),
            self.counts(),
            self.lag(),
            self.log_incidents(),
        )?;
        let quarantined = counts.3;
        let kpis = kpis_of(
            &throughput,
            &samples,
            &dlq_inflow,
            counts,
            range.minutes() as f64,
        );
        let batch_latency = self.hub.as_ref().and_then(|h| {
            let l = h.batch_latencies();
            Some(BatchLatency {
                batches: l.len(),
                p50_ms: percentile(&l, 50.0)?,
                p95_ms: percentile(&l, 95.0)?,
            })
        });
        Ok(OverviewData {
            from,
            to,
            kpis,
            durations: percentile_series(&samples, from, to, bucket),
            throughput,
            dlq_inflow,
            transitions,
            ticker,
            lag,
            batch_latency,
            quarantined,
            log_incidents,
        })
    }

    async fn breakers(&self, range: Range) -> Result<BreakersData, OpsError> {
        let (from, to) = window(range);
        let breakers = breaker_views(&self.pool).await?;
        let (transitions, dlq_inflow) = tokio::try_join!(
            self.transitions(from, to),
            self.dlq_inflow(from, to, range.bucket_secs())
        )?;
        Ok(BreakersData {
            from,
            to,
            breakers,
            transitions,
            dlq_inflow,
        })
    }

    async fn search_orders(&self, f: &OrderFilter) -> Result<OrdersPageData, OpsError> {
        let mut qb: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("SELECT {ORDER_COLUMNS} FROM orders WHERE true"));
        push_order_filter(&mut qb, f);
        if let Some(c) = &f.after {
            qb.push(" AND (updated_at, order_id) < (")
                .push_bind(c.updated_at)
                .push(", ")
                .push_bind(c.order_id.clone())
                .push(")");
        }
        let limit = f.limit.clamp(1, switchyard_app::ops::MAX_PAGE);
        qb.push(" ORDER BY updated_at DESC, order_id DESC LIMIT ")
            .push_bind(limit + 1);
        let mut rows: Vec<_> = qb
            .build_query_as::<OrderTuple>()
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(order_row)
            .collect();
        let next = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|r| OrderCursor {
                updated_at: r.updated_at,
                order_id: r.order_id.clone(),
            })
        } else {
            None
        };
        Ok(OrdersPageData { rows, next })
    }

    async fn order_as_of(
        &self,
        order_id: &str,
        version: i64,
    ) -> Result<Option<OrderAsOf>, OpsError> {
        let events = order_events(&self.pool, order_id).await?;
        if events.is_empty() || version < 1 {
            return Ok(None);
        }
        let n = (version as usize).min(events.len());
        let last = &events[n - 1];
        // The same fold the ingest projection uses, over the first n events only.
        let delta = order_deltas(&events[..n]).into_iter().next();
        let step = delta.as_ref().and_then(|d| {
            d.current_step
                .as_ref()
                .map(|s| format!("{s} {}", d.step_status.clone().unwrap_or_default()))
        });
        Ok(Some(OrderAsOf {
            version: n as i64,
            versions: events.len() as i64,
            event_type: last.event_type.clone(),
            occurred_at: last.occurred_at,
            status: delta
                .as_ref()
                .map_or(OrderStatus::Unknown, |d| OrderStatus::from_db(&d.status)),
            step,
            customer_id: delta.as_ref().and_then(|d| d.customer_id.clone()),
            total_cents: delta.as_ref().and_then(|d| d.total_cents),
            currency: delta.as_ref().and_then(|d| d.currency.clone()),
            item_count: delta.as_ref().and_then(|d| d.item_count),
            failure_reason: delta.and_then(|d| d.failure_reason),
        }))
    }

    async fn failure_context(&self, order_id: &str) -> Result<Vec<FailureContext>, OpsError> {
        let events = order_events(&self.pool, order_id).await?;
        let steps: Vec<_> = events.iter().filter_map(saga_step).collect();
        let mut services: Vec<String> = steps.iter().map(|s| s.step.clone()).collect();
        services.sort();
        services.dedup();
        let mut out = Vec::new();
        for s in steps.iter().filter(|s| s.status == "failed").take(20) {
            let rows: Vec<(String, String, String, DateTime<Utc>)> = sqlx::query_as(
                "SELECT b.service, b.breaker, t.to_state, t.at
                 FROM breakers b
                 JOIN LATERAL (
                    SELECT to_state, at FROM breaker_transitions t
                    WHERE t.service = b.service AND t.breaker = b.breaker AND t.at <= $2
                    ORDER BY at DESC, id DESC LIMIT 1) t ON true
                 WHERE b.service = ANY($1) OR NOT EXISTS (SELECT 1 FROM breakers WHERE service = ANY($1))
                 ORDER BY b.service, b.breaker LIMIT 50",
            )
            .bind(&services)
            .bind(s.at)
            .fetch_all(&self.pool)
            .await?;
            out.push(FailureContext {
                step: s.step.clone(),
                action: s.action.clone(),
                at: s.at,
                error: s.error.clone(),
                breakers: rows
                    .into_iter()
                    .map(|(service, breaker, state, since)| BreakerAt {
                        service,
                        breaker,
                        state: BreakerState::from_db(&state),
                        since,
                    })
                    .collect(),
            });
        }
        Ok(out)
    }

    async fn order_gaps(&self, order_id: &str) -> Result<Vec<LogGap>, OpsError> {
        // Per partition the order's events are on (in the gap's incarnation of its log): a
        // gap applies if the order had events before it and either has events after it or
        // was still open.
        let rows: Vec<(String, i32, i64, i64, DateTime<Utc>)> = sqlx::query_as(
            "SELECT g.topic, g.kafka_partition, g.stored_offset, g.log_start, g.detected_at
               FROM log_incidents g
               JOIN LATERAL (
                    SELECT min(e.kafka_offset) AS first, max(e.kafka_offset) AS last
                      FROM events e
                     WHERE e.aggregate_id = $1 AND e.topic = g.topic
                       AND e.kafka_partition = g.kafka_partition
                       AND e.incarnation = g.incarnation) o ON o.first < g.stored_offset
              WHERE g.kind = 'records_expired'
                AND (o.last >= g.log_start OR NOT EXISTS (
                    SELECT 1 FROM orders WHERE order_id = $1
                       AND status IN ('completed', 'failed', 'cancelled')))
              ORDER BY g.detected_at LIMIT 20",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(topic, partition, from, to, detected_at)| LogGap {
                topic,
                partition,
                from,
                to,
                detected_at,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(like_prefix("ORD-1"), "ORD-1%");
        assert_eq!(like_prefix("50%_off\\"), "50\\%\\_off\\\\%");
    }

    #[test]
    fn series_cover_every_bucket() {
        let from = DateTime::from_timestamp(1_000_000_030, 0).unwrap();
        let to = from + TimeDelta::minutes(5);
        let mut v = BTreeMap::new();
        v.insert(bin(from, 60) + TimeDelta::minutes(2), 4.0);
        let s = filled("x", from, to, 60, &v);
        assert_eq!(s.points.len(), 6);
        assert_eq!(s.total(), 4.0);
        let p = percentile_series(&[(from, 10.0), (from, 30.0)], from, to, 60);
        assert_eq!(p[0].points, vec![(bin(from, 60), 10.0)]);
        assert_eq!(p[1].points, vec![(bin(from, 60), 30.0)]);
    }
}
