//! `switchyard-tools decode-bench`: what the decode stage costs per record, with masking
//! off (the baseline, measured in the same run) and with the built-in rules on. No broker,
//! no database: the synthetic mix ([`crate::synthetic`]) as ingest would read it, through
//! [`batch_of`] in batches of the ingest default's size, best of several rounds.

use crate::synthetic::Synthetic;
use std::time::Instant;
use switchyard::ingest::batch::batch_of;
use switchyard::ingest::consumer::Topics;
use switchyard::ingest::decode::RawRecord;
use switchyard::masking::{rules::Config, Masker};

/// Records per `batch_of` call (ingest's default batch size).
const BATCH: usize = 10_000;

pub fn run(records: usize, rounds: usize) -> anyhow::Result<()> {
    let raw: Vec<RawRecord> = Synthetic::new(42, "DEC")
        .records(records.max(1))
        .iter()
        .enumerate()
        .map(|(i, r)| r.raw((i % 6) as i32, i as i64))
        .collect();
    let bytes: usize = raw
        .iter()
        .map(|r| r.value.as_ref().map_or(0, Vec::len))
        .sum();
    println!(
        "decode-bench: {} records of the synthetic mix ({} bytes of values on average), batches of {BATCH}, best of {rounds} rounds",
        raw.len(),
        bytes / raw.len()
    );
    let off = Topics {
        masker: Masker::new(Config {
            defaults: false,
            detectors: Vec::new(),
            rules: Vec::new(),
        }),
        ..Topics::contract()
    };
    let on = Topics::contract();
    let mut best = [f64::MAX; 2];
    for _ in 0..rounds.max(1) {
        for (i, topics) in [&off, &on].into_iter().enumerate() {
            let t = Instant::now();
            let mut stored = 0;
            for chunk in raw.chunks(BATCH) {
                stored += std::hint::black_box(batch_of(chunk, topics)).len();
            }
            anyhow::ensure!(
                stored == raw.len(),
                "{stored} of {} records decoded",
                raw.len()
            );
            best[i] = best[i].min(t.elapsed().as_secs_f64());
        }
    }
    let per = |secs: f64| secs * 1e9 / raw.len() as f64;
    println!("| masking | ns per record | records/s |");
    println!("|---|---|---|");
    for (name, secs) in [("off (baseline)", best[0]), ("built-in rules", best[1])] {
        println!(
            "| {name} | {:.0} | {:.0} |",
            per(secs),
            raw.len() as f64 / secs
        );
    }
    // How often the cheap look sends an event's data on to be parsed and walked (the
    // synthetic mix holds nothing to mask: every one of these is a false alarm).
    let (mut events, mut flagged) = (0, 0);
    for chunk in raw.chunks(BATCH) {
        for e in batch_of(chunk, &off).events {
            events += 1;
            let rules = on.masker.for_topic(&e.topic);
            flagged += usize::from(
                e.payload
                    .as_ref()
                    .is_some_and(|p| rules.may_need(p.get().as_bytes())),
            );
        }
    }
    println!(
        "events whose data the look sends on to be parsed: {flagged} of {events} ({:.1} %)",
        flagged as f64 * 100.0 / events.max(1) as f64
    );
    println!(
        "masking costs {:.0} ns a record ({:+.1} %)",
        per(best[1]) - per(best[0]),
        (best[1] / best[0] - 1.0) * 100.0
    );
    Ok(())
}
