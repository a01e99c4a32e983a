//! What the soak says about its samples: the table (one row per sample), the CSV files, and
//! the verdict — the flatness rules, each PASS or FAIL with its reason. Pure functions of
//! the samples, so the rules are tested here without running anything.
//!
//! The rules (BENCHMARKS.md, "Soak"):
//! - **Bounded** (resident memory of each judged process, the console's database size —
//!   what it grew by since the start, the empty schema not counted —, ingest lag): only samples after the first retention cycle count (before it, the data
//!   is still filling the retention window and is meant to grow). Those "steady" samples are
//!   cut in two halves by time; the largest value of the later half may exceed the largest
//!   of the earlier half by at most 25 % (or a small absolute slack — 8 MiB of memory,
//!   2 MiB of database, 1,000 records of lag — for values so small that allocator or page
//!   granularity is the whole difference). A leak or a table that is
//!   never pruned grows in proportion to time and fails this; a sawtooth (partitions
//!   dropped whole, memory returned) does not. A steady part of fewer than 4 samples fails:
//!   the run was too short to say.
//! - **Latency** (push p99, page p95): the percentile over every measurement of the last
//!   third of the run is at most 1.5× the same percentile over the reference window (with
//!   fewer than 10 measurements above it in either window, the highest percentile that has
//!   10 is judged instead: a p99 of 120 measurements is one outlier, not a latency) — 10
//!   minutes, or a sixth of a run shorter than an hour but never less than a minute (one
//!   cycle of the fleet's chaos) — plus 5 ms of slack (a 3 ms page may take 7 ms on a busy
//!   two-core machine without anything being wrong). The reference window starts where the
//!   first retention cycle ends, for the reason the bounded rule does: before it, what a
//!   page shows is still filling (the overview's hour holds 5 minutes of orders at minute 5
//!   and 30 at minute 40), so a page slower at minute 100 than at minute 5 says the window
//!   filled, not that anything degraded. A run too short for a reference after the cycle
//!   and before the last third takes it from the start, and says so; the report also gives
//!   the start-of-run figure beside it.
//! - **Delivered**: at most 1 % of push probes lost and of page loads failed.
//! - **Throughput held**: events stored per minute over the last third of the run are at
//!   least 70 % of the rate over the reference window. Flat memory and latency mean
//!   nothing if the load stopped: the 50-minute run's fleet went silent at minute 25 (a
//!   producer gone fatal) and every other rule still passed.

use super::sample::{cpu_percent, mib, Sample, Setup};
use std::fmt::Write;

/// The thresholds of the rules.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Length of the first retention cycle (largest retention window, plus one partition
    /// width and one retention check): samples before it do not count for "bounded".
    pub warmup_secs: f64,
    /// The latency reference window's length: 10 minutes, or a sixth of a shorter run, but
    /// never less than a minute.
    pub reference_secs: f64,
    /// Where the reference window starts: the end of the first retention cycle, or 0 when
    /// the run is too short to fit it there before its last third.
    pub reference_start_secs: f64,
    pub bound_factor: f64,
    pub latency_factor: f64,
    /// The console's database size at the start (its empty schema): the size rule judges
    /// what was stored since, so that a short run's empty schema does not hide its growth.
    pub db_start_mib: f64,
    /// Absolute slack of the bounded rule, per series kind.
    pub rss_slack_mib: f64,
    pub db_slack_mib: f64,
    pub lag_slack: f64,
    pub latency_slack_ms: f64,
    /// Largest share of probes lost or page loads failed.
    pub max_loss: f64,
    /// Smallest share of the reference window's event rate the last third must keep.
    pub min_throughput: f64,
}

impl Rules {
    /// The documented rules for a run of `total_secs` whose first retention cycle is
    /// `warmup_secs` long.
    pub fn new(total_secs: f64, warmup_secs: f64) -> Rules {
        // At least a minute: the fleet's chaos runs in one-minute cycles (a 15 s payment
        // outage each), and a shorter reference could miss the outage the rest sees.
        let reference_secs = (total_secs / 6.0).clamp(60.0, 600.0);
        let reference_start_secs = if warmup_secs + reference_secs <= total_secs * 2.0 / 3.0 {
            warmup_secs
        } else {
            0.0
        };
        Rules {
            warmup_secs,
            reference_secs,
            reference_start_secs,
            bound_factor: 1.25,
            latency_factor: 1.5,
            db_start_mib: 0.0,
            rss_slack_mib: 8.0,
            db_slack_mib: 2.0,
            lag_slack: 1000.0,
            latency_slack_ms: 5.0,
            max_loss: 0.01,
            min_throughput: 0.7,
        }
    }
}

impl Rules {
    /// Whether a sample at `t` (covering the interval that ends at `t`) is in the latency
    /// and throughput reference window.
    pub fn in_reference(&self, t: f64) -> bool {
        let start = self.reference_start_secs;
        (start == 0.0 || t > start + 1e-9) && t <= start + self.reference_secs + 1e-9
    }

    /// Whether a sample at `t` of a run whose last sample is at `end` is in the last third
    /// (and not in the reference window).
    pub fn in_last_third(&self, t: f64, end: f64) -> bool {
        t > end * 2.0 / 3.0 && t > self.reference_start_secs + self.reference_secs + 1e-9
    }

    /// The reference window in words, for reasons and headings.
    pub fn reference_label(&self) -> String {
        let (from, to) = (
            self.reference_start_secs,
            self.reference_start_secs + self.reference_secs,
        );
        if from == 0.0 {
            format!("the first {to:.0} s (too short a run for a reference after the first retention cycle)")
        } else {
            format!("{from:.0}–{to:.0} s (after the first retention cycle)")
        }
    }
}

/// One rule's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub name: String,
    pub pass: bool,
    pub reason: String,
}

/// Nearest-rank percentile of unsorted values (`None` when there are none).
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    Some(crate::page_bench::pct(&v, p))
}

/// Least-squares slope of (seconds, value) points, per second (reported, not judged: over
/// an hour or two, allocator and autovacuum noise makes a small slope of either sign).
pub fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (mt, mv) = points
        .iter()
        .fold((0.0, 0.0), |(t, v), p| (t + p.0 / n, v + p.1 / n));
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), p| {
        (a + (p.0 - mt) * (p.1 - mv), b + (p.0 - mt).powi(2))
    });
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// The bounded rule over (seconds, value) points.
fn bounded(name: &str, points: &[(f64, f64)], rules: &Rules, slack: f64, unit: &str) -> Check {
    let steady: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(t, _)| *t >= rules.warmup_secs)
        .collect();
    if steady.len() < 4 {
        return Check {
            name: name.into(),
            pass: false,
            reason: format!(
                "only {} samples after the first retention cycle ({:.0} s): run longer",
                steady.len(),
                rules.warmup_secs
            ),
        };
    }
    let half = steady.len().div_ceil(2);
    let max = |s: &[(f64, f64)]| s.iter().map(|p| p.1).fold(f64::MIN, f64::max);
    let (earlier, later) = (max(&steady[..half]), max(&steady[half..]));
    let allowed = (earlier * rules.bound_factor).max(earlier + slack);
    let pass = later <= allowed;
    Check {
        name: name.into(),
        pass,
        reason: format!(
            "max {later:.1} {unit} in the later half of the steady part vs {earlier:.1} {unit} in the earlier half ({} {allowed:.1} allowed: ×{} or +{slack} {unit}); trend {:+.1} {unit}/h",
            if pass { "≤" } else { ">" },
            rules.bound_factor,
            slope(&steady) * 3600.0
        ),
    }
}

/// Measurements a percentile must have above it to be judged: with fewer, it is one or
/// two outliers (the p99 of 120 measurements is their second largest).
pub const ABOVE_PERCENTILE: f64 = 10.0;

/// The percentile judged for windows of `n` measurements: `p`, or — when fewer than
/// [`ABOVE_PERCENTILE`] measurements would lie above it — the highest percentile that has
/// that many above it (a 3-minute run's push p99 is judged as about p92; an hour's is p99).
pub fn judged_percentile(p: f64, n: usize) -> f64 {
    if n == 0 {
        return p;
    }
    let highest = 100.0 * (1.0 - ABOVE_PERCENTILE / n as f64);
    (p.min(highest) * 10.0).floor().max(500.0) / 10.0
}

/// The latency rule over (seconds, measurements) per sample.
fn latency(name: &str, samples: &[(f64, &[f64])], p: f64, rules: &Rules) -> Check {
    let end = samples.last().map_or(0.0, |s| s.0);
    let pool = |keep: &dyn Fn(f64) -> bool| -> Vec<f64> {
        samples
            .iter()
            .filter(|s| keep(s.0))
            .flat_map(|s| s.1.iter().copied())
            .collect()
    };
    // A sample covers the interval that ends at its time.
    let reference = pool(&|t| rules.in_reference(t));
    let last = pool(&|t| rules.in_last_third(t, end));
    let p = judged_percentile(p, reference.len().min(last.len()));
    let (Some(r), Some(l)) = (percentile(&reference, p), percentile(&last, p)) else {
        return Check {
            name: name.into(),
            pass: false,
            reason: format!(
                "no measurements ({} in {}, {} in the last third)",
                reference.len(),
                rules.reference_label(),
                last.len()
            ),
        };
    };
    let allowed = (r * rules.latency_factor).max(r + rules.latency_slack_ms);
    let pass = l <= allowed;
    // Said beside the verdict, not judged: the same percentile while the windows filled.
    let start = if rules.reference_start_secs > 0.0 {
        let first = pool(&|t| t <= rules.reference_secs + 1e-9);
        percentile(&first, p).map_or(String::new(), |f| {
            format!(
                "; the run's first {:.0} s, not judged: {f:.1} ms",
                rules.reference_secs
            )
        })
    } else {
        String::new()
    };
    Check {
        name: name.into(),
        pass,
        reason: format!(
            "p{p} {l:.1} ms over the last third ({} measurements) vs {r:.1} ms over {} ({}): {} {allowed:.1} ms allowed{start}",
            last.len(),
            rules.reference_label(),
            reference.len(),
            if pass { "≤" } else { ">" }
        ),
    }
}

fn loss(name: &str, lost: usize, done: usize, what: &str, rules: &Rules) -> Check {
    let total = lost + done;
    let share = if total == 0 {
        1.0
    } else {
        lost as f64 / total as f64
    };
    let pass = total > 0 && share <= rules.max_loss;
    Check {
        name: name.into(),
        pass,
        reason: format!(
            "{lost} of {total} {what} ({:.2} %; at most {:.0} % allowed)",
            share * 100.0,
            rules.max_loss * 100.0
        ),
    }
}

/// Events stored per minute between two samples.
pub fn event_rate(earlier: &Sample, later: &Sample) -> Option<f64> {
    let stored = later.events_stored? - earlier.events_stored?;
    let span = later.secs - earlier.secs;
    (span > 0.0).then(|| stored as f64 * 60.0 / span)
}

/// Events stored per minute between consecutive samples, at the later sample's time.
fn event_rates(samples: &[Sample]) -> Vec<(f64, f64)> {
    samples
        .windows(2)
        .filter_map(|w| Some((w[1].secs, event_rate(&w[0], &w[1])?)))
        .collect()
}

/// The throughput rule: the mean event rate of the last third against the reference's.
fn throughput(samples: &[Sample], rules: &Rules) -> Check {
    let rates = event_rates(samples);
    let end = samples.last().map_or(0.0, |s| s.secs);
    let mean = |keep: &dyn Fn(f64) -> bool| -> Option<f64> {
        let v: Vec<f64> = rates.iter().filter(|r| keep(r.0)).map(|r| r.1).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let reference = mean(&|t| rules.in_reference(t));
    let last = mean(&|t| rules.in_last_third(t, end));
    let name = "events stored per minute held";
    let (Some(r), Some(l)) = (reference, last) else {
        return Check {
            name: name.into(),
            pass: false,
            reason: "no event counts in the reference window or the last third".into(),
        };
    };
    let needed = r * rules.min_throughput;
    let pass = r > 0.0 && l >= needed;
    Check {
        name: name.into(),
        pass,
        reason: format!(
            "{l:.0}/min over the last third vs {r:.0}/min over {}: {} {needed:.0}/min needed",
            rules.reference_label(),
            if pass { "≥" } else { "<" }
        ),
    }
}

/// Every rule over the samples, in a fixed order.
pub fn verdict(setup: &Setup, samples: &[Sample], rules: &Rules) -> Vec<Check> {
    let mut checks = Vec::new();
    for (i, p) in setup.processes.iter().enumerate() {
        if !p.judged {
            continue;
        }
        let points: Vec<(f64, f64)> = samples
            .iter()
            .filter_map(|s| Some((s.secs, s.rss_mib.get(i).copied().flatten()?)))
            .collect();
        let mut check = bounded(
            &format!("{} memory bounded", p.name),
            &points,
            rules,
            rules.rss_slack_mib,
            "MiB",
        );
        let gone = samples
            .iter()
            .position(|s| s.rss_mib.get(i).copied().flatten().is_none());
        if let Some(at) = gone {
            check.pass = false;
            check.reason = format!(
                "the process was gone at {:.0} s; {}",
                samples[at].secs, check.reason
            );
        }
        checks.push(check);
    }
    let db: Vec<(f64, f64)> = samples
        .iter()
        .map(|s| (s.secs, s.db_mib() - rules.db_start_mib))
        .collect();
    checks.push(bounded(
        "database size bounded (stored since the start)",
        &db,
        rules,
        rules.db_slack_mib,
        "MiB",
    ));
    let lag: Vec<(f64, f64)> = samples
        .iter()
        .filter_map(|s| Some((s.secs, s.lag? as f64)))
        .collect();
    checks.push(bounded(
        "ingest lag bounded",
        &lag,
        rules,
        rules.lag_slack,
        "records",
    ));
    let push: Vec<(f64, &[f64])> = samples
        .iter()
        .map(|s| (s.secs, s.push_ms.as_slice()))
        .collect();
    checks.push(throughput(samples, rules));
    checks.push(latency("push latency p99 flat", &push, 99.0, rules));
    let pages: Vec<(f64, &[f64])> = samples
        .iter()
        .map(|s| (s.secs, s.page_ms.as_slice()))
        .collect();
    checks.push(latency("page time p95 flat", &pages, 95.0, rules));
    let sum = |f: &dyn Fn(&Sample) -> usize| samples.iter().map(f).sum::<usize>();
    checks.push(loss(
        "push probes delivered",
        sum(&|s| s.push_lost),
        sum(&|s| s.push_ms.len()),
        "probes lost",
        rules,
    ));
    checks.push(loss(
        "pages answered",
        sum(&|s| s.page_errors),
        sum(&|s| s.page_ms.len()),
        "page loads failed",
        rules,
    ));
    checks
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.decimals$}"))
}

/// The table, one row per sample (Markdown, so it pastes into BENCHMARKS.md).
pub fn table(setup: &Setup, samples: &[Sample]) -> String {
    let mut out = String::new();
    let mut head = vec!["min".to_string()];
    for p in &setup.processes {
        head.push(format!("{} MiB", p.name));
    }
    for p in &setup.processes {
        head.push(format!("{} cpu %", p.name));
    }
    if let Some(first) = setup.processes.first() {
        head.push(format!("{} fds", first.name));
    }
    head.push("db MiB".into());
    for d in &setup.other_databases {
        head.push(format!("{d} MiB"));
    }
    for h in [
        "WAL MiB",
        "events/min",
        "lag",
        "push p99 ms",
        "probes",
        "page p95 ms",
        "loads",
        "pg conns",
        "replays",
        "largest table (table+idx MiB)",
    ] {
        head.push(h.into());
    }
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
    for (n, s) in samples.iter().enumerate() {
        let mut row = vec![format!("{:.1}", s.secs / 60.0)];
        for i in 0..setup.processes.len() {
            row.push(opt(s.rss_mib.get(i).copied().flatten(), 0));
        }
        let earlier = n.checked_sub(1).map(|m| &samples[m]);
        for i in 0..setup.processes.len() {
            row.push(opt(earlier.and_then(|e| cpu_percent(e, s, i)), 0));
        }
        if !setup.processes.is_empty() {
            row.push(opt(s.fds.first().copied().flatten().map(|f| f as f64), 0));
        }
        row.push(format!("{:.1}", s.db_mib()));
        for b in &s.other_db_bytes {
            row.push(format!("{:.1}", mib(*b)));
        }
        row.push(format!("{:.1}", mib(s.wal_bytes)));
        row.push(opt(earlier.and_then(|e| event_rate(e, s)), 0));
        row.push(s.lag.map_or("-".into(), |l| l.to_string()));
        row.push(opt(percentile(&s.push_ms, 99.0), 0));
        row.push(if s.push_lost > 0 {
            format!("{} ({} lost)", s.push_ms.len(), s.push_lost)
        } else {
            s.push_ms.len().to_string()
        });
        row.push(opt(percentile(&s.page_ms, 95.0), 1));
        row.push(if s.page_errors > 0 {
            format!("{} ({} failed)", s.page_ms.len(), s.page_errors)
        } else {
            s.page_ms.len().to_string()
        });
        row.push(s.pg_connections.to_string());
        row.push(if s.replays_refused > 0 {
            format!("{} ({} refused)", s.replays_started, s.replays_refused)
        } else {
            s.replays_started.to_string()
        });
        row.push(s.tables.first().map_or("-".into(), |t| {
            format!(
                "{} {:.1}+{:.1}",
                t.name,
                mib(t.table_bytes),
                mib(t.index_bytes)
            )
        }));
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

/// Page time by page, in the latency rule's two windows (the reference and the last
/// third), so that a failing page rule says which page slowed down.
pub fn pages_table(samples: &[Sample], names: &[&str], rules: &Rules) -> String {
    let end = samples.last().map_or(0.0, |s| s.secs);
    let mut out = String::from(
        "| page | loads | p95 ms, reference | p95 ms, last third | p95 ms, whole run |\n|---|---|---|---|---|\n",
    );
    for (k, name) in names.iter().enumerate() {
        let pick = |keep: &dyn Fn(f64) -> bool| -> Vec<f64> {
            samples
                .iter()
                .filter(|s| keep(s.secs))
                .flat_map(|s| s.page_ms.iter().zip(&s.page_kind))
                .filter(|(_, kind)| **kind == k)
                .map(|(ms, _)| *ms)
                .collect()
        };
        let all = pick(&|_| true);
        let reference = pick(&|t| rules.in_reference(t));
        let last = pick(&|t| rules.in_last_third(t, end));
        let _ = writeln!(
            out,
            "| `{name}` | {} | {} | {} | {} |",
            all.len(),
            opt(percentile(&reference, 95.0), 1),
            opt(percentile(&last, 95.0), 1),
            opt(percentile(&all, 95.0), 1)
        );
    }
    out
}

/// The verdict as text: one line per rule, then PASS or FAIL.
pub fn verdict_text(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let _ = writeln!(
            out,
            "{} {}: {}",
            if c.pass { "PASS" } else { "FAIL" },
            c.name,
            c.reason
        );
    }
    let failed = checks.iter().filter(|c| !c.pass).count();
    if failed == 0 {
        let _ = writeln!(out, "soak: PASS ({} rules)", checks.len());
    } else {
        let _ = writeln!(out, "soak: FAIL ({failed} of {} rules)", checks.len());
    }
    out
}

/// `samples.csv`: one row per sample.
pub fn samples_csv(setup: &Setup, samples: &[Sample]) -> String {
    let mut head = vec!["secs".to_string()];
    for p in &setup.processes {
        head.push(format!("rss_mib_{}", p.name));
    }
    for p in &setup.processes {
        head.push(format!("fds_{}", p.name));
    }
    for p in &setup.processes {
        head.push(format!("cpu_s_{}", p.name));
    }
    head.push("db_bytes".into());
    for d in &setup.other_databases {
        head.push(format!("db_bytes_{d}"));
    }
    for h in [
        "wal_bytes",
        "events_stored",
        "ingest_lag",
        "pg_connections",
        "push_p50_ms",
        "push_p99_ms",
        "push_count",
        "push_lost",
        "page_p50_ms",
        "page_p95_ms",
        "page_count",
        "page_errors",
        "replays_started",
        "replays_refused",
    ] {
        head.push(h.into());
    }
    let mut out = head.join(",");
    out.push('\n');
    let o = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.3}"));
    for s in samples {
        let mut row = vec![format!("{:.1}", s.secs)];
        row.extend(s.rss_mib.iter().map(|r| o(*r)));
        row.extend(
            s.fds
                .iter()
                .map(|f| f.map_or(String::new(), |f| f.to_string())),
        );
        row.extend(s.cpu_secs.iter().map(|c| o(*c)));
        row.push(s.db_bytes.to_string());
        row.extend(s.other_db_bytes.iter().map(|b| b.to_string()));
        row.push(s.wal_bytes.to_string());
        row.push(s.events_stored.map_or(String::new(), |e| e.to_string()));
        row.push(s.lag.map_or(String::new(), |l| l.to_string()));
        row.push(s.pg_connections.to_string());
        row.push(o(percentile(&s.push_ms, 50.0)));
        row.push(o(percentile(&s.push_ms, 99.0)));
        row.push(s.push_ms.len().to_string());
        row.push(s.push_lost.to_string());
        row.push(o(percentile(&s.page_ms, 50.0)));
        row.push(o(percentile(&s.page_ms, 95.0)));
        row.push(s.page_ms.len().to_string());
        row.push(s.page_errors.to_string());
        row.push(s.replays_started.to_string());
        row.push(s.replays_refused.to_string());
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// `tables.csv`: the largest tables at each sample, one row per (sample, table).
pub fn tables_csv(samples: &[Sample]) -> String {
    let mut out = String::from("secs,table,table_bytes,index_bytes\n");
    for s in samples {
        for t in &s.tables {
            let _ = writeln!(
                out,
                "{:.1},{},{},{}",
                s.secs, t.name, t.table_bytes, t.index_bytes
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::sample::{TableSize, Watched};
    use super::*;

    fn setup() -> Setup {
        Setup {
            processes: vec![
                Watched {
                    name: "console".into(),
                    pid: 1,
                    judged: true,
                },
                Watched {
                    name: "broker".into(),
                    pid: 2,
                    judged: false,
                },
            ],
            other_databases: vec!["fleet".into()],
        }
    }

    /// 60 one-minute samples of a flat system: memory and database settle after the
    /// 20-minute retention cycle, latencies steady. `rss(i)`, `db(i)`, `push(i)` shape them.
    fn run(
        rss: impl Fn(f64) -> f64,
        db: impl Fn(f64) -> f64,
        push: impl Fn(f64) -> f64,
    ) -> Vec<Sample> {
        (1..=60)
            .map(|i| {
                let m = i as f64;
                Sample {
                    secs: m * 60.0,
                    rss_mib: vec![Some(rss(m)), Some(500.0 + 10.0 * m)],
                    fds: vec![Some(40), Some(12)],
                    // Half a core for the console, a tenth for the broker.
                    cpu_secs: vec![Some(m * 30.0), Some(m * 6.0)],
                    db_bytes: (db(m) * 1024.0 * 1024.0) as i64,
                    other_db_bytes: vec![i * 1_000_000],
                    wal_bytes: 4_000_000,
                    tables: vec![TableSize {
                        name: "public.events".into(),
                        table_bytes: 30 << 20,
                        index_bytes: 10 << 20,
                    }],
                    events_stored: Some(i * 6_000),
                    lag: Some(if i % 7 == 0 { 300 } else { 0 }),
                    pg_connections: 12,
                    push_ms: (0..120).map(|k| push(m) + (k % 10) as f64).collect(),
                    push_lost: 0,
                    page_ms: (0..120).map(|k| 8.0 + (k % 20) as f64 * 0.5).collect(),
                    page_kind: vec![0; 120],
                    page_errors: 0,
                    replays_started: usize::from(i % 5 == 0),
                    replays_refused: 0,
                }
            })
            .collect()
    }

    /// Fills to its retention level in 20 minutes, then a sawtooth (partitions dropped).
    fn sawtooth(m: f64) -> f64 {
        if m < 20.0 {
            100.0 + 10.0 * m
        } else {
            300.0 + 25.0 * (m % 5.0)
        }
    }

    fn rules() -> Rules {
        Rules::new(3600.0, 21.0 * 60.0)
    }

    fn failed(checks: &[Check]) -> Vec<&str> {
        checks
            .iter()
            .filter(|c| !c.pass)
            .map(|c| c.name.as_str())
            .collect()
    }

    #[test]
    fn a_flat_run_passes_every_rule() {
        let samples = run(|m| 80.0 + (m % 3.0), sawtooth, |_| 40.0);
        let checks = verdict(&setup(), &samples, &rules());
        assert!(failed(&checks).is_empty(), "{}", verdict_text(&checks));
        // The observed broker grows without being judged.
        assert!(!checks.iter().any(|c| c.name.starts_with("broker")));
        assert!(verdict_text(&checks).ends_with("soak: PASS (8 rules)\n"));
    }

    #[test]
    fn a_leak_fails_memory() {
        let samples = run(|m| 80.0 + 3.0 * m, sawtooth, |_| 40.0);
        let checks = verdict(&setup(), &samples, &rules());
        assert_eq!(failed(&checks), ["console memory bounded"]);
        assert!(verdict_text(&checks).contains("soak: FAIL (1 of 8 rules)"));
    }

    #[test]
    fn growth_before_the_first_retention_cycle_does_not_count() {
        // Memory doubles while the window fills, then holds.
        let samples = run(|m| 50.0 + 5.0 * m.min(21.0), sawtooth, |_| 40.0);
        assert!(failed(&verdict(&setup(), &samples, &rules())).is_empty());
    }

    #[test]
    fn a_table_never_pruned_fails_database_size() {
        let samples = run(|_| 80.0, |m| 100.0 + 10.0 * m, |_| 40.0);
        assert_eq!(
            failed(&verdict(&setup(), &samples, &rules())),
            ["database size bounded (stored since the start)"]
        );
        // Sizes are judged above the start (the empty schema): 40 MiB of schema would hide
        // growth from 40 to 60 MiB of data (80 → 100 MiB: +25 %, allowed); above the
        // start it is +50 %.
        let samples = run(
            |_| 80.0,
            |m| 40.0 + if m <= 30.0 { 30.0 } else { m },
            |_| 40.0,
        );
        assert!(failed(&verdict(&setup(), &samples, &rules())).is_empty());
        let mut r = rules();
        r.db_start_mib = 40.0;
        assert_eq!(
            failed(&verdict(&setup(), &samples, &r)),
            ["database size bounded (stored since the start)"]
        );
    }

    #[test]
    fn a_percentile_is_judged_only_where_enough_measurements_lie_above_it() {
        assert_eq!(judged_percentile(99.0, 1200), 99.0);
        assert_eq!(judged_percentile(95.0, 120), 91.6);
        assert_eq!(judged_percentile(99.0, 120), 91.6);
        assert_eq!(judged_percentile(99.0, 5), 50.0);
        assert_eq!(judged_percentile(99.0, 0), 99.0);
    }

    #[test]
    fn small_absolute_growth_is_slack() {
        // 10 → 16 MiB is +60 % but within the 8 MiB slack.
        let samples = run(|m| 10.0 + 0.15 * m, sawtooth, |_| 40.0);
        assert!(failed(&verdict(&setup(), &samples, &rules())).is_empty());
    }

    #[test]
    fn slower_push_at_the_end_fails_latency() {
        let samples = run(|_| 80.0, sawtooth, |m| if m > 40.0 { 90.0 } else { 40.0 });
        let checks = verdict(&setup(), &samples, &rules());
        assert_eq!(failed(&checks), ["push latency p99 flat"]);
        let c = checks.iter().find(|c| !c.pass).unwrap();
        assert!(c.reason.contains("p99 99.0 ms"), "{}", c.reason);
        assert!(c.reason.contains("vs 49.0 ms"), "{}", c.reason);
    }

    #[test]
    fn a_load_that_stopped_fails_throughput() {
        // The 50-minute run: the fleet went silent at minute 25, only probes went on.
        let mut samples = run(|_| 80.0, sawtooth, |_| 40.0);
        for s in samples.iter_mut().filter(|s| s.secs > 25.0 * 60.0) {
            s.events_stored = Some(25 * 6_000 + (s.secs / 60.0) as i64 * 10);
        }
        let checks = verdict(&setup(), &samples, &rules());
        assert_eq!(failed(&checks), ["events stored per minute held"]);
        let c = checks.iter().find(|c| !c.pass).unwrap();
        assert!(
            c.reason
                .contains("10/min over the last third vs 2431/min over 1260–1860 s"),
            "{}",
            c.reason
        );
        // A dip in one minute (a chaos outage) does not; no counts at all fail.
        let mut samples = run(|_| 80.0, sawtooth, |_| 40.0);
        for s in samples.iter_mut().filter(|s| s.secs >= 50.0 * 60.0) {
            s.events_stored = s.events_stored.map(|e| e - 3_000);
        }
        assert!(failed(&verdict(&setup(), &samples, &rules())).is_empty());
        for s in samples.iter_mut() {
            s.events_stored = None;
        }
        assert_eq!(
            failed(&verdict(&setup(), &samples, &rules())),
            ["events stored per minute held"]
        );
    }

    #[test]
    fn pages_slower_only_while_the_windows_fill_pass_latency() {
        // Pages do more work until retention has filled what they show, then stay flat.
        let samples = run(|_| 80.0, sawtooth, |m| if m <= 21.0 { 20.0 } else { 40.0 });
        let checks = verdict(&setup(), &samples, &rules());
        assert!(failed(&checks).is_empty(), "{checks:?}");
        let push = checks
            .iter()
            .find(|c| c.name == "push latency p99 flat")
            .unwrap();
        assert!(
            push.reason
                .contains("vs 49.0 ms over 1260–1860 s (after the first retention cycle)"),
            "{}",
            push.reason
        );
        // The start-of-run figure is said beside it.
        assert!(
            push.reason.contains("first 600 s, not judged: 29.0 ms"),
            "{}",
            push.reason
        );
    }

    #[test]
    fn the_reference_starts_after_the_first_retention_cycle_when_it_fits() {
        let two_hours = Rules::new(7200.0, 1860.0);
        assert_eq!(two_hours.reference_start_secs, 1860.0);
        assert!(!two_hours.in_reference(1860.0) && two_hours.in_reference(1920.0));
        assert!(two_hours.in_reference(2460.0) && !two_hours.in_reference(2520.0));
        assert!(
            two_hours.in_last_third(4860.0, 7200.0) && !two_hours.in_last_third(4800.0, 7200.0)
        );
        // The test suite's 3-minute form: no room after its cycle, so from the start.
        let short = Rules::new(180.0, 75.0);
        assert_eq!(short.reference_start_secs, 0.0);
        assert!(short.in_reference(15.0) && short.in_reference(60.0) && !short.in_reference(75.0));
        assert!(short.reference_label().contains("too short a run"));
    }

    #[test]
    fn one_slow_minute_in_the_middle_does_not_fail_latency() {
        let samples = run(|_| 80.0, sawtooth, |m| if m == 30.0 { 400.0 } else { 40.0 });
        assert!(failed(&verdict(&setup(), &samples, &rules())).is_empty());
    }

    #[test]
    fn a_run_shorter_than_the_retention_cycle_fails() {
        let samples = run(|_| 80.0, sawtooth, |_| 40.0);
        let checks = verdict(&setup(), &samples, &Rules::new(3600.0, 3500.0));
        assert!(failed(&checks).contains(&"database size bounded (stored since the start)"));
        assert!(
            checks[0].reason.contains("run longer"),
            "{}",
            checks[0].reason
        );
    }

    #[test]
    fn a_vanished_process_or_lost_probes_fail() {
        let mut samples = run(|_| 80.0, sawtooth, |_| 40.0);
        samples[59].rss_mib[0] = None;
        samples[10].push_lost = 500;
        samples[11].push_ms.clear();
        samples[11].page_ms.clear();
        let checks = verdict(&setup(), &samples, &rules());
        assert_eq!(
            failed(&checks),
            ["console memory bounded", "push probes delivered"]
        );
        assert!(checks[0]
            .reason
            .starts_with("the process was gone at 3600 s"));
    }

    #[test]
    fn no_measurements_fail_rather_than_pass() {
        let mut samples = run(|_| 80.0, sawtooth, |_| 40.0);
        for s in &mut samples {
            s.page_ms.clear();
        }
        let failed_names = failed(&verdict(&setup(), &samples, &rules()))
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        assert_eq!(failed_names, ["page time p95 flat", "pages answered"]);
    }

    #[test]
    fn slope_per_second() {
        assert_eq!(slope(&[(0.0, 1.0), (10.0, 1.0)]), 0.0);
        assert!((slope(&[(0.0, 0.0), (60.0, 2.0), (120.0, 4.0)]) - 1.0 / 30.0).abs() < 1e-12);
        assert_eq!(slope(&[(5.0, 3.0)]), 0.0);
    }

    #[test]
    fn reference_window_is_ten_minutes_or_a_sixth_but_a_minute_at_least() {
        assert_eq!(Rules::new(7200.0, 0.0).reference_secs, 600.0);
        assert_eq!(Rules::new(1800.0, 0.0).reference_secs, 300.0);
        assert_eq!(Rules::new(180.0, 0.0).reference_secs, 60.0);
    }

    #[test]
    fn table_and_csv_have_a_row_per_sample() {
        let samples = run(|_| 80.0, sawtooth, |_| 40.0);
        let t = table(&setup(), &samples[..2]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with(
            "| min | console MiB | broker MiB | console cpu % | broker cpu % | console fds | db MiB | fleet MiB | WAL MiB |"
        ));
        assert_eq!(
            lines[2],
            "| 1.0 | 80 | 510 | - | - | 40 | 110.0 | 1.0 | 3.8 | - | 0 | 49 | 120 | 17.0 | 120 | 12 | 0 | public.events 30.0+10.0 |"
        );
        assert!(
            lines[3].starts_with("| 2.0 | 80 | 520 | 50 | 10 | 40 | 120.0 | 1.9 | 3.8 | 6000 |"),
            "{}",
            lines[3]
        );
        let csv = samples_csv(&setup(), &samples);
        assert_eq!(csv.lines().count(), 61);
        let header = csv.lines().next().unwrap();
        assert_eq!(
            header.split(',').count(),
            csv.lines().nth(1).unwrap().split(',').count()
        );
        assert!(header.starts_with(
            "secs,rss_mib_console,rss_mib_broker,fds_console,fds_broker,cpu_s_console,cpu_s_broker,db_bytes,db_bytes_fleet,wal_bytes,events_stored"
        ));
        assert_eq!(tables_csv(&samples).lines().count(), 61);
    }

    #[test]
    fn pages_table_splits_by_page_and_window() {
        let mut samples = run(|_| 80.0, sawtooth, |_| 40.0);
        for s in &mut samples {
            // Page 1 slows down in the last third; page 0 does not.
            let slow = if s.secs > 2400.0 { 30.0 } else { 10.0 };
            s.page_ms = vec![5.0, slow];
            s.page_kind = vec![0, 1];
        }
        let t = pages_table(&samples, &["/", "/orders", "/never"], &rules());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[2], "| `/` | 60 | 5.0 | 5.0 | 5.0 |");
        assert_eq!(lines[3], "| `/orders` | 60 | 10.0 | 30.0 | 30.0 |");
        assert_eq!(lines[4], "| `/never` | 0 | - | - | - |");
    }
}
