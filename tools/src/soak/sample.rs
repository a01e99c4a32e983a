//! One sample of the soak: what the running system weighs at one instant (resident memory
//! and open files of each process, database and table sizes, WAL written, ingest lag,
//! connections) together with what the load drivers measured since the previous sample
//! (push latencies, page times, errors). Reading is here; judging is in `report`.

use sqlx::PgPool;
use std::time::Duration;

/// A process the soak samples; `judged` ones are held to the flatness rules, the others
/// are only reported and plotted.
#[derive(Clone, Debug, PartialEq)]
pub struct Watched {
    pub name: String,
    pub pid: u32,
    pub judged: bool,
}

/// Parses `name=pid`.
pub fn parse_watch(s: &str, judged: bool) -> anyhow::Result<Watched> {
    let (name, pid) = s
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("expected name=pid, got {s:?}"))?;
    anyhow::ensure!(!name.is_empty(), "empty process name in {s:?}");
    Ok(Watched {
        name: name.to_string(),
        pid: pid.trim().parse()?,
        judged,
    })
}

/// What the soak watches: processes in column order, and databases besides the console's
/// own (reported, not judged: the demo fleet keeps everything it ever did).
#[derive(Clone, Debug, Default)]
pub struct Setup {
    pub processes: Vec<Watched>,
    pub other_databases: Vec<String>,
}

/// A table with its partitions (if partitioned), TOAST and indexes.
#[derive(Clone, Debug, PartialEq)]
pub struct TableSize {
    pub name: String,
    pub table_bytes: i64,
    pub index_bytes: i64,
}

/// One sample. Latencies are the raw measurements of the interval that ends here, sorted.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Seconds since the soak started.
    pub secs: f64,
    /// Resident memory (MiB) of each watched process, in [`Setup::processes`] order;
    /// `None` once the process is gone.
    pub rss_mib: Vec<Option<f64>>,
    /// Open file descriptors of each watched process.
    pub fds: Vec<Option<u64>>,
    /// CPU time (user + system, seconds) each watched process has used since it started.
    pub cpu_secs: Vec<Option<f64>>,
    /// `pg_database_size` of the console's database.
    pub db_bytes: i64,
    /// `pg_database_size` of each of [`Setup::other_databases`].
    pub other_db_bytes: Vec<i64>,
    /// WAL written since the previous sample (the whole cluster's).
    pub wal_bytes: i64,
    /// The largest tables, largest first.
    pub tables: Vec<TableSize>,
    /// Events the console has stored since it started (the event store's id sequence),
    /// if it answered: per-interval differences are the run's throughput.
    pub events_stored: Option<i64>,
    /// Sum of `switchyard_ingest_lag` over partitions (records), if `/metrics` answered.
    pub lag: Option<i64>,
    /// Connections to the console's database (`pg_stat_activity`).
    pub pg_connections: i64,
    /// Probe order produced → its message on `/api/live`, ms.
    pub push_ms: Vec<f64>,
    /// Probes given up on in this interval (not pushed within the probe timeout).
    pub push_lost: usize,
    /// Page loads (status 200, whole body), ms.
    pub page_ms: Vec<f64>,
    /// Which page each of `page_ms` was, as an index into `load::PAGE_NAMES`.
    pub page_kind: Vec<usize>,
    /// Page loads that failed or answered other than 200.
    pub page_errors: usize,
    /// Replay jobs started in this interval, and start attempts refused.
    pub replays_started: usize,
    pub replays_refused: usize,
}

impl Sample {
    pub fn db_mib(&self) -> f64 {
        mib(self.db_bytes)
    }
}

pub fn mib(bytes: i64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Open file descriptors of a process (Linux).
pub fn open_fds(pid: u32) -> Option<u64> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

/// The database side of a sample: sizes, WAL position, connections. Returns the WAL
/// position (bytes since the cluster's start) for the next sample's difference.
pub async fn read_database(
    pool: &PgPool,
    setup: &Setup,
    sample: &mut Sample,
    last_wal: Option<i64>,
    largest: i64,
) -> anyhow::Result<i64> {
    let (db, wal, conns): (i64, i64, i64) = sqlx::query_as(
        "SELECT pg_database_size(current_database()),
                pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint,
                (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database())",
    )
    .fetch_one(pool)
    .await?;
    sample.db_bytes = db;
    sample.pg_connections = conns;
    // `last_value` before the first `nextval` is the start value, not a stored event.
    sample.events_stored =
        sqlx::query_as::<_, (i64, bool)>("SELECT last_value, is_called FROM events_id_seq")
            .fetch_optional(pool)
            .await
            .ok()
            .flatten()
            .map(|(v, called)| if called { v } else { 0 });
    sample.wal_bytes = last_wal.map_or(0, |w| wal - w);
    sample.other_db_bytes.clear();
    for name in &setup.other_databases {
        let size: Option<i64> = sqlx::query_scalar(
            "SELECT pg_database_size(datname) FROM pg_database WHERE datname = $1",
        )
        .bind(name)
        .fetch_optional(pool)
        .await?;
        sample.other_db_bytes.push(size.unwrap_or(0));
    }
    // Each table that is not itself a partition, with everything under it: a partitioned
    // table's partitions (`pg_partition_tree`, which lists nothing for a plain table, hence
    // the table itself besides), their TOAST and their indexes.
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT n.nspname || '.' || c.relname,
                sum(pg_table_size(t.relid))::bigint,
                sum(pg_indexes_size(t.relid))::bigint
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         CROSS JOIN LATERAL (SELECT relid FROM pg_partition_tree(c.oid)
                             UNION SELECT c.oid::regclass) t
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg_toast%'
         GROUP BY 1
         ORDER BY sum(pg_table_size(t.relid)) + sum(pg_indexes_size(t.relid)) DESC
         LIMIT $1",
    )
    .bind(largest)
    .fetch_all(pool)
    .await?;
    sample.tables = rows
        .into_iter()
        .map(|(name, table_bytes, index_bytes)| TableSize {
            name,
            table_bytes,
            index_bytes,
        })
        .collect();
    Ok(wal)
}

/// The process side of a sample: memory and open files of each watched process.
pub fn read_processes(setup: &Setup, sample: &mut Sample) {
    sample.rss_mib = setup
        .processes
        .iter()
        .map(|p| crate::push_bench::rss_mib(p.pid))
        .collect();
    sample.fds = setup.processes.iter().map(|p| open_fds(p.pid)).collect();
    sample.cpu_secs = setup.processes.iter().map(|p| cpu_secs(p.pid)).collect();
}

/// CPU time a process has used (user + system, seconds; Linux `/proc/PID/stat`).
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    cpu_secs_of(&stat, CLOCK_TICKS)
}

/// `sysconf(_SC_CLK_TCK)`: 100 on every Linux this runs on (`getconf CLK_TCK`).
const CLOCK_TICKS: f64 = 100.0;

/// Fields 14 and 15 (utime, stime, in clock ticks) of a `stat` line; the command name
/// (field 2) may hold spaces and parentheses, so fields are counted after its last `)`.
fn cpu_secs_of(stat: &str, ticks_per_sec: f64) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / ticks_per_sec)
}

/// Share of one core each process used between two samples (percent).
pub fn cpu_percent(earlier: &Sample, later: &Sample, i: usize) -> Option<f64> {
    let used =
        later.cpu_secs.get(i).copied().flatten()? - earlier.cpu_secs.get(i).copied().flatten()?;
    let span = later.secs - earlier.secs;
    (span > 0.0).then(|| 100.0 * used / span)
}

/// The sum of `switchyard_ingest_lag` over partitions, as `/metrics` shows it now.
pub async fn read_lag(http: &reqwest::Client, base: &str) -> Option<i64> {
    let lag = tokio::time::timeout(
        Duration::from_secs(20),
        crate::push_bench::ingest_lag(http, base),
    )
    .await
    .ok()?
    .ok()?;
    Some(lag.sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_arguments() {
        assert_eq!(
            parse_watch("console=42", true).unwrap(),
            Watched {
                name: "console".into(),
                pid: 42,
                judged: true
            }
        );
        assert!(parse_watch("console", true).is_err());
        assert!(parse_watch("=42", true).is_err());
        assert!(parse_watch("console=x", false).is_err());
    }

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        // A command name with a space and a parenthesis, as a process may name itself.
        let stat = "4242 (tokio (rt) w) S 1 2 3 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9";
        assert_eq!(super::cpu_secs_of(stat, 100.0), Some(3.0));
        assert!(super::cpu_secs(std::process::id()).is_some());
    }

    #[test]
    fn own_process_has_open_files() {
        assert!(open_fds(std::process::id()).unwrap() > 0);
        assert!(crate::push_bench::rss_mib(std::process::id()).unwrap() > 0.0);
    }
}
