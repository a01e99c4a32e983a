//! What a batch is and how records become one: records are split by lane (partition
//! number modulo the lane count), decoded, and gathered with the offsets they advance. The
//! fetch stage makes batches, the write stages store them, metrics count them.

use super::dead_letter::DeadLetterRow;
use super::decode::{decode_on, Decoded};
use super::envelopes::mapping::Mapping;
use super::mask;
use super::record::{EventRow, QuarantineRow, RawRecord};
use super::topics::Topics;
use crate::masking::TopicRules;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<EventRow>,
    pub dead_letters: Vec<DeadLetterRow>,
    pub quarantined: Vec<QuarantineRow>,
    /// The offsets the batch spans, per (topic, partition).
    pub positions: BTreeMap<(String, i32), Span>,
    /// Oldest Kafka timestamp in the batch (ms): the NOTIFY carries it so listeners can
    /// measure end-to-end latency.
    pub oldest_ms: Option<i64>,
}

/// The offsets one batch holds of one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// The lowest: where the partition's stored position is claimed.
    pub first: i64,
    /// The next offset to read once the batch is stored.
    pub next: i64,
    /// Which incarnation of the partition's log the records were read from (a log replaced
    /// under ingest starts a new one: `log_incidents`). Set by the fetch stage.
    pub incarnation: i32,
}

impl Batch {
    /// Tags each partition's span with the incarnation `of` says it was read from.
    pub fn set_incarnations(&mut self, of: impl Fn(&str, i32) -> i32) {
        for ((topic, partition), span) in self.positions.iter_mut() {
            span.incarnation = of(topic, *partition);
        }
    }

    pub fn len(&self) -> usize {
        self.events.len() + self.dead_letters.len() + self.quarantined.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub(crate) fn raw_record(m: &BorrowedMessage<'_>) -> RawRecord {
    let headers = m
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                .collect()
        })
        .unwrap_or_default();
    RawRecord {
        topic: m.topic().to_string(),
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(<[u8]>::to_vec),
        value: m.payload().map(<[u8]>::to_vec),
        headers,
        timestamp_ms: m.timestamp().to_millis(),
    }
}

/// Decodes records into a batch, with the positions they advance; `topics` says which
/// topics hold dead letters and which envelope mapping reads which topic.
pub fn batch_of(records: &[RawRecord], topics: &Topics) -> Batch {
    let mut batch = Batch {
        // Nearly every record is an event; growing the vector would copy them all.
        events: Vec::with_capacity(records.len()),
        ..Batch::default()
    };
    // Keyed by the records' own topic names: one topic copy per partition, not per record.
    let mut spans: HashMap<(&str, i32), Span> = HashMap::new();
    let mut per_topic: HashMap<&str, (bool, Option<&Mapping>, Arc<TopicRules>)> = HashMap::new();
    for rec in records {
        if let Some(ts) = rec.timestamp_ms {
            batch.oldest_ms = Some(batch.oldest_ms.map_or(ts, |o| o.min(ts)));
        }
        let span = spans
            .entry((rec.topic.as_str(), rec.partition))
            .or_insert(Span {
                first: rec.offset,
                next: rec.offset + 1,
                incarnation: 0,
            });
        span.first = span.first.min(rec.offset);
        span.next = span.next.max(rec.offset + 1);
        let (on_dead_letters, mapping, rules) =
            per_topic.entry(rec.topic.as_str()).or_insert_with(|| {
                (
                    topics.dead_letters.matches(&rec.topic),
                    topics.envelopes.mapping_for(&rec.topic),
                    topics.masker.for_topic(&rec.topic),
                )
            });
        match decode_on(rec, *on_dead_letters, &topics.envelopes, *mapping) {
            Decoded::Event(mut e) => {
                mask::event(&mut e, rules);
                batch.events.push(e)
            }
            Decoded::DeadLetter(mut d) => {
                mask::dead_letter(&mut d, &topics.masker);
                batch.dead_letters.push(d)
            }
            Decoded::Quarantine(mut q) => {
                mask::quarantined(&mut q, &topics.masker);
                tracing::warn!(topic = %q.topic, partition = q.partition, offset = q.offset,
                    reason = %q.reason, "record quarantined");
                batch.quarantined.push(q)
            }
        }
    }
    batch.positions = spans
        .into_iter()
        .map(|((topic, partition), span)| ((topic.to_string(), partition), span))
        .collect();
    batch
}

/// The lane that writes a partition's records: fixed for the life of the process, so a
/// partition's batches are written one after another, in order. It goes by the partition
/// number alone: every contract topic is keyed by order id with the same partition count,
/// so one order's events sit in the same partition of each topic and one lane writes them
/// all — two lanes never wait for each other's lock on an order's row.
pub fn lane_of(_topic: &str, partition: i32, lanes: usize) -> usize {
    partition.max(0) as usize % lanes.max(1)
}

/// Records split by lane, each lane's in their order.
pub fn split_by_lane(records: Vec<RawRecord>, lanes: usize) -> Vec<Vec<RawRecord>> {
    if lanes <= 1 {
        return vec![records];
    }
    // Sized for an even split (and a little more): growing a vector of records copies
    // every record it holds.
    let each = records.len() / lanes + records.len() / (4 * lanes) + 16;
    let mut parts: Vec<Vec<RawRecord>> = (0..lanes).map(|_| Vec::with_capacity(each)).collect();
    for r in records {
        parts[lane_of(&r.topic, r.partition, lanes)].push(r);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_keeps_its_partitions_lane_and_order() {
        let records: Vec<RawRecord> = (0..60)
            .map(|i| RawRecord {
                topic: ["saga.step", "order.created"][i % 2].into(),
                partition: (i % 3) as i32,
                offset: i as i64,
                ..RawRecord::default()
            })
            .collect();
        let parts = split_by_lane(records, 3);
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), 60);
        for (lane, part) in parts.iter().enumerate() {
            assert!(part
                .iter()
                .all(|r| lane_of(&r.topic, r.partition, 3) == lane));
            assert!(part.windows(2).all(|w| w[0].offset < w[1].offset));
        }
    }

    #[test]
    fn partitions_go_round_the_lanes_alike_in_every_topic() {
        for topic in switchyard_contract::all_topics() {
            let lanes: Vec<usize> = (0..6).map(|p| lane_of(&topic, p, 3)).collect();
            assert_eq!(lanes, [0, 1, 2, 0, 1, 2], "{topic}");
            assert!((0..6).all(|p| lane_of(&topic, p, 1) == 0));
            assert_eq!(lane_of(&topic, 4, 2), lane_of("saga.step", 4, 2));
        }
    }
}
