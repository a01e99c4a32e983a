//! Takes fetched records out in Kafka-timestamp order across partitions.
//!
//! Why: one order's events are spread over several topics (`order.created`, `saga.step`,
//! `order.completed`, …). Live, they arrive together and share a batch. Catching up on a
//! backlog, Kafka hands out about the same number of bytes per partition per fetch, so a
//! topic with one record per order races thousands of orders ahead of `saga.step` with
//! five: each order then lands in three batches and its row is upserted three times, and
//! the console shows orders completed whose saga steps are not in yet. Each partition has
//! its own queue ([`super::consumer`]) and batches take records oldest first across them,
//! so a batch holds one stretch of time of every topic, and a partition that runs ahead
//! simply waits in its queue (librdkafka stops prefetching it once the queue is full).
//!
//! Order within a partition is never changed: only queue fronts are taken.

use super::record::RawRecord;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Takes up to `max` records from `pending` (one queue per partition), oldest Kafka
/// timestamp first. `refill(i, queue)` is asked for more when queue `i` runs empty; a
/// queue that stays empty is done for this batch. Once the batch is at least half full,
/// a queue running dry ends it, so that the batch does not run ahead in time of a
/// partition whose next records are still being fetched.
pub fn take_in_time_order(
    pending: &mut [VecDeque<RawRecord>],
    mut refill: impl FnMut(usize, &mut VecDeque<RawRecord>),
    max: usize,
) -> Vec<RawRecord> {
    let ts = |r: &RawRecord| r.timestamp_ms.unwrap_or(i64::MIN);
    let mut heads = BinaryHeap::with_capacity(pending.len());
    for (i, q) in pending.iter_mut().enumerate() {
        if q.is_empty() {
            refill(i, q);
        }
        if let Some(r) = q.front() {
            heads.push(Reverse((ts(r), i)));
        }
    }
    let mut out = Vec::with_capacity(max.min(pending.iter().map(VecDeque::len).sum()));
    while out.len() < max {
        let Some(Reverse((_, i))) = heads.pop() else {
            break;
        };
        let q = &mut pending[i];
        out.extend(q.pop_front());
        if q.is_empty() {
            refill(i, q);
        }
        match q.front() {
            Some(r) => heads.push(Reverse((ts(r), i))),
            None if out.len() >= max / 2 => break,
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(topic: &str, offset: i64, ts: i64) -> RawRecord {
        RawRecord {
            topic: topic.into(),
            offset,
            timestamp_ms: Some(ts),
            ..RawRecord::default()
        }
    }

    /// A queue of `n` records of `topic`, one every `step` ms from `start`.
    fn queue(topic: &str, n: i64, start: i64, step: i64) -> VecDeque<RawRecord> {
        (0..n).map(|i| rec(topic, i, start + i * step)).collect()
    }

    #[test]
    fn a_partition_far_ahead_in_time_waits_for_the_others() {
        // Fetched as Kafka hands it out in a catch-up: many orders' worth of created
        // events, few orders' worth of saga steps.
        let mut pending = vec![
            queue("order.created", 100, 0, 50),
            queue("saga.step", 100, 0, 10),
        ];
        let batch = take_in_time_order(&mut pending, |_, _| {}, 200);
        // Saga steps ran dry past half the batch: the batch ends with them.
        assert_eq!(batch.len(), 120);
        let latest = batch.iter().map(|r| r.timestamp_ms.unwrap()).max().unwrap();
        // Every saga step is in and only the created events of the same stretch of time
        // (up to 990 ms); the rest wait.
        assert_eq!(batch.iter().filter(|r| r.topic == "saga.step").count(), 100);
        assert!(latest <= 1000, "latest {latest}");
        assert_eq!(pending[0].len(), 80);
        assert!(pending[1].is_empty());
    }

    #[test]
    fn order_within_each_partition_is_kept_and_nothing_is_lost() {
        let mut pending = vec![
            queue("a", 50, 7, 3),
            queue("b", 40, 0, 5),
            VecDeque::new(),
            queue("c", 30, 100, 1),
        ];
        let mut all = Vec::new();
        loop {
            let batch = take_in_time_order(&mut pending, |_, _| {}, 16);
            if batch.is_empty() {
                break;
            }
            assert!(batch
                .windows(2)
                .all(|w| w[0].timestamp_ms <= w[1].timestamp_ms));
            all.extend(batch);
        }
        assert_eq!(all.len(), 120);
        for topic in ["a", "b", "c"] {
            let offsets: Vec<i64> = all
                .iter()
                .filter(|r| r.topic == topic)
                .map(|r| r.offset)
                .collect();
            assert!(
                offsets.windows(2).all(|w| w[0] + 1 == w[1]),
                "{topic}: {offsets:?}"
            );
        }
    }

    #[test]
    fn queues_are_refilled_and_a_dry_one_ends_a_half_full_batch() {
        let mut pending = vec![queue("slow", 2, 0, 10), queue("fast", 100, 0, 10)];
        let mut more = vec![queue("slow", 3, 20, 10)];
        let batch = take_in_time_order(
            &mut pending,
            |i, q| {
                if i == 0 {
                    q.extend(more.pop().into_iter().flatten());
                }
            },
            8,
        );
        // slow: 0, 10, then refilled 20, 30; fast: 0 to 30 — 8 records, oldest first.
        assert_eq!(batch.len(), 8);
        assert_eq!(batch.iter().filter(|r| r.topic == "slow").count(), 4);
        // The refill is spent: once "slow" runs dry past half the batch, the batch ends
        // there instead of taking "fast" records beyond "slow"'s last one.
        let mut pending = vec![queue("slow", 30, 0, 10), queue("fast", 100, 0, 10)];
        let batch = take_in_time_order(&mut pending, |_, _| {}, 80);
        assert_eq!(batch.len(), 59);
        assert_eq!(batch.last().unwrap().timestamp_ms, Some(290));
        // Below half full, a dry queue does not end the batch (live batches are small).
        let mut pending = vec![queue("slow", 1, 0, 10), queue("fast", 100, 0, 10)];
        assert_eq!(take_in_time_order(&mut pending, |_, _| {}, 50).len(), 50);
    }
}
