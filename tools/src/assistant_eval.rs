//! The offline router's evaluation: questions with the tool and arguments they should get,
//! run through the router at a fixed "now", scored exactly (same tool, same arguments),
//! with routing latency. Two sets: the tuning set (`tools/assistant-eval.jsonl`, which the
//! rules and prototypes were written beside) and the held-out set
//! (`tools/assistant-eval-holdout.jsonl`, written before the issue-22 tuning and not tuned
//! against). `switchyard-tools assistant-eval` prints both, per tool, with the misses.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use switchyard::assistant::offline::OfflineBackend;

/// The instant every evaluation question is asked at (time windows are relative to it).
pub const EVAL_NOW: &str = "2026-11-25T12:00:00Z";

/// One question. `tool` is `none` when the router should not pick any.
#[derive(Clone, Debug, Deserialize)]
pub struct Case {
    pub q: String,
    pub tool: String,
    #[serde(default)]
    pub args: Value,
    /// The order an earlier turn of the conversation was about, for follow-ups.
    #[serde(default)]
    pub context_order: Option<String>,
}

pub fn load(path: &Path) -> anyhow::Result<Vec<Case>> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

#[derive(Debug)]
pub struct Miss {
    pub case: Case,
    pub tool: String,
    pub args: Value,
    /// The router's score for its choice (or its best guess, when it chose none).
    pub score: f32,
}

#[derive(Debug)]
pub struct Report {
    pub total: usize,
    pub right: usize,
    pub misses: Vec<Miss>,
    pub p50: Duration,
    pub p95: Duration,
    pub max: Duration,
    pub with_model: bool,
    /// Questions the rules were not sure of, so the embedding model was asked.
    pub embedded: usize,
    /// Median latency of those questions.
    pub embedded_p50: Duration,
}

impl Report {
    /// (right, total) per expected tool, in the order of first appearance.
    pub fn per_tool(&self, cases: &[Case]) -> Vec<(String, usize, usize)> {
        let mut out: Vec<(String, usize, usize)> = Vec::new();
        for c in cases {
            let missed = self.misses.iter().any(|m| m.case.q == c.q);
            match out.iter_mut().find(|x| x.0 == c.tool) {
                Some(x) => {
                    x.2 += 1;
                    x.1 += usize::from(!missed);
                }
                None => out.push((c.tool.clone(), usize::from(!missed), 1)),
            }
        }
        out
    }

    pub fn accuracy(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        self.right as f64 / self.total as f64
    }
}

fn empty_as_null(v: &Value) -> Value {
    match v {
        Value::Object(m) if m.is_empty() => Value::Null,
        other => other.clone(),
    }
}

/// Routes every case and scores it.
pub fn run(router: &OfflineBackend, cases: &[Case]) -> Report {
    let now: DateTime<Utc> = EVAL_NOW.parse().expect("EVAL_NOW");
    let mut times = Vec::with_capacity(cases.len());
    let mut embedded_times = Vec::new();
    let mut misses = Vec::new();
    for c in cases {
        let t0 = Instant::now();
        let r = router.route(&c.q, now, c.context_order.as_deref());
        times.push(t0.elapsed());
        if r.used_embeddings {
            embedded_times.push(t0.elapsed());
        }
        let tool = r.tool.unwrap_or("none").to_string();
        let ok =
            tool == c.tool && (tool == "none" || empty_as_null(&r.args) == empty_as_null(&c.args));
        if !ok {
            misses.push(Miss {
                case: c.clone(),
                tool,
                args: r.args,
                score: r.score,
            });
        }
    }
    times.sort();
    embedded_times.sort();
    let pct = |p: f64| {
        times
            .get(((times.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or_default()
    };
    Report {
        total: cases.len(),
        right: cases.len() - misses.len(),
        misses,
        p50: pct(0.50),
        p95: pct(0.95),
        max: times.last().copied().unwrap_or_default(),
        with_model: router.has_model(),
        embedded: embedded_times.len(),
        embedded_p50: embedded_times
            .get(embedded_times.len() / 2)
            .copied()
            .unwrap_or_default(),
    }
}

fn pct(right: usize, total: usize) -> f64 {
    if total == 0 {
        return 0.0;
    }
    100.0 * right as f64 / total as f64
}

/// Prints one set's misses, per-tool figures and total; returns its report.
fn print_set(name: &str, router: &OfflineBackend, cases: &[Case]) -> Report {
    let r = run(router, cases);
    println!("== {name}: {} questions", cases.len());
    for m in &r.misses {
        println!(
            "MISS {:?}\n     expected {} {}\n     got      {} {} (score {:.2})",
            m.case.q, m.case.tool, m.case.args, m.tool, m.args, m.score
        );
    }
    for (tool, right, total) in r.per_tool(cases) {
        println!(
            "  {tool:<18} {right:>3}/{total:<3} {:>6.1}%",
            pct(right, total)
        );
    }
    println!(
        "{name}: {}/{} = {:.1}% right tool and arguments",
        r.right,
        r.total,
        100.0 * r.accuracy()
    );
    r
}

/// `switchyard-tools assistant-eval`: runs both sets, prints each miss and the figures
/// (per set, per tool, and the whole), and fails below `min_accuracy` on the whole or
/// below `min_holdout` on the held-out set.
pub fn report(
    file: &Path,
    holdout: Option<&Path>,
    cfg: &switchyard::config::AssistantConfig,
    rules_only: bool,
    min_accuracy: f64,
    min_holdout: f64,
) -> anyhow::Result<()> {
    let cases = load(file)?;
    let held = match holdout {
        Some(h) => load(h)?,
        None => Vec::new(),
    };
    let t0 = Instant::now();
    let router = if rules_only {
        OfflineBackend::rules_only("--rules-only")
    } else {
        OfflineBackend::load(&cfg.embedding_model_dir())
    };
    let load_time = t0.elapsed();
    let tuning = print_set("tuning", &router, &cases);
    let held_report = (!held.is_empty()).then(|| print_set("held-out", &router, &held));
    let mut all = cases.clone();
    all.extend(held.iter().cloned());
    let r = run(&router, &all);
    println!(
        "router: {} (model load {} ms)",
        if r.with_model {
            "rules + all-MiniLM-L6-v2 embeddings"
        } else {
            "rules only"
        },
        load_time.as_millis()
    );
    println!(
        "tuning:   {}/{} = {:.1}%",
        tuning.right,
        tuning.total,
        100.0 * tuning.accuracy()
    );
    if let Some(h) = &held_report {
        println!(
            "held-out: {}/{} = {:.1}%",
            h.right,
            h.total,
            100.0 * h.accuracy()
        );
    }
    println!(
        "whole:    {}/{} = {:.1}% right tool and arguments",
        r.right,
        r.total,
        100.0 * r.accuracy()
    );
    println!(
        "latency per question: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms ({} of {} embedded, median {:.1} ms)",
        r.p50.as_secs_f64() * 1e3,
        r.p95.as_secs_f64() * 1e3,
        r.max.as_secs_f64() * 1e3,
        r.embedded,
        r.total,
        r.embedded_p50.as_secs_f64() * 1e3
    );
    anyhow::ensure!(
        r.accuracy() >= min_accuracy,
        "accuracy {:.1}% is below {:.1}%",
        100.0 * r.accuracy(),
        100.0 * min_accuracy
    );
    if let Some(h) = &held_report {
        anyhow::ensure!(
            h.accuracy() >= min_holdout,
            "held-out accuracy {:.1}% is below {:.1}%",
            100.0 * h.accuracy(),
            100.0 * min_holdout
        );
    }
    Ok(())
}
