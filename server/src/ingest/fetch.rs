//! The fetch stage: reads every assigned partition, cuts batches, decodes them and hands
//! each lane its share.
//!
//! It runs on a thread of its own around a `BaseConsumer`: each assigned partition gets
//! its own librdkafka queue, so records can be taken oldest first across partitions
//! ([`super::align`]) while a partition that runs ahead waits in its queue. The main
//! queue is still polled on every turn: it serves the rebalance callbacks
//! ([`super::consumer`]) and holds whatever was fetched for a partition before it got its
//! own queue.
//!
//! Rule that keeps each partition in order: after an assignment changes, the partition
//! queues are split off first, then the main queue is drained, and only then are the
//! partition queues read, so a partition's records fetched before the split come first.
//! Records held for an assignment that changed are dropped: librdkafka fetches again from
//! the positions the rebalance callback loaded from PostgreSQL.

use super::align::take_in_time_order;
use super::batch::{batch_of, raw_record, split_by_lane, Batch};
use super::positions::PositionsContext;
use super::record::RawRecord;
use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Records held per partition between fetching and batching: enough to fill a batch from
/// a few partitions, small enough that a hundred partitions hold little memory.
const HELD_PER_PARTITION: usize = 2_000;

/// Wakes the fetch thread when a queue gets records (librdkafka calls it from its own
/// threads) or when a wait times out.
#[derive(Default)]
pub(crate) struct Signal {
    ready: Mutex<bool>,
    cond: Condvar,
}

impl Signal {
    pub(crate) fn notify(&self) {
        *self.ready.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cond.notify_one();
    }

    fn wait(&self, timeout: Duration) {
        let ready = self.ready.lock().unwrap_or_else(|e| e.into_inner());
        let (mut ready, _) = self
            .cond
            .wait_timeout_while(ready, timeout, |r| !*r)
            .unwrap_or_else(|e| e.into_inner());
        *ready = false;
    }
}

type Consumer = Arc<BaseConsumer<PositionsContext>>;

/// One assigned partition and its own queue (none if librdkafka did not know it).
struct Partition {
    topic: String,
    partition: i32,
    queue: Option<PartitionQueue<PositionsContext>>,
}

pub(crate) struct Settings {
    pub batch_max: usize,
    pub batch_wait: Duration,
    /// Which topics hold dead letters, and how each topic's records are read.
    pub topics: super::topics::Topics,
}

struct Fetcher {
    consumer: Consumer,
    signal: Arc<Signal>,
    generation: u64,
    partitions: Vec<Partition>,
    /// `held[i]`: records of `partitions[i]` taken from its queue, not yet in a batch.
    held: Vec<VecDeque<RawRecord>>,
}

/// Moves up to `max - held.len()` records from `queue` into `held`; true if it stopped at
/// `max` (the partition has a backlog).
fn take_from(p: &Partition, held: &mut VecDeque<RawRecord>, ctx: &PositionsContext) -> bool {
    let Some(queue) = &p.queue else {
        return false;
    };
    while held.len() < HELD_PER_PARTITION {
        match queue.poll(Duration::ZERO) {
            Some(Ok(m)) => held.push_back(raw_record(&m)),
            Some(Err(e)) => fetch_error(&e, ctx, Some((&p.topic, p.partition))),
            None => return false,
        }
    }
    true
}

/// A position out of the log's range is the log watch's to judge (`auto.offset.reset` is
/// `error`, so librdkafka stopped that partition's fetch); anything else is the client's.
fn fetch_error(e: &KafkaError, ctx: &PositionsContext, on: Option<(&str, i32)>) {
    if let KafkaError::MessageConsumption(RDKafkaErrorCode::AutoOffsetReset) = e {
        tracing::info!(error = %e, partition = ?on, "a fetch position is out of the log's range; checking the logs");
        ctx.out_of_range(on.map(|(t, p)| (t.to_string(), p)));
    } else {
        switchyard_contract::kafka::diagnosis::client_error(e);
    }
}

impl Fetcher {
    /// Polls the main queue until it is empty: rebalance callbacks run here.
    fn serve_main(&mut self) {
        let consumer = self.consumer.clone();
        loop {
            let polled = consumer
                .poll(Duration::ZERO)
                .map(|r| r.map(|m| raw_record(&m)));
            // A callback may have changed the assignment; a record polled after it
            // belongs to the new one.
            self.follow_assignment();
            match polled {
                None => return,
                Some(Ok(rec)) => self.hold(rec),
                Some(Err(e)) => fetch_error(&e, consumer.context(), None),
            }
        }
    }

    fn hold(&mut self, rec: RawRecord) {
        let i = match self
            .partitions
            .iter()
            .position(|p| p.partition == rec.partition && p.topic == rec.topic)
        {
            Some(i) => i,
            None => {
                self.partitions.push(Partition {
                    topic: rec.topic.clone(),
                    partition: rec.partition,
                    queue: None,
                });
                self.held.push(VecDeque::new());
                self.partitions.len() - 1
            }
        };
        self.held[i].push_back(rec);
    }

    /// After a rebalance: one queue per assigned partition (an `assign` deactivates the
    /// queues split before it), and nothing held from before.
    fn follow_assignment(&mut self) {
        let Some((generation, assigned)) =
            self.consumer.context().assignment_since(self.generation)
        else {
            return;
        };
        self.generation = generation;
        let dropped = self.held();
        if dropped > 0 {
            tracing::info!(
                dropped,
                "assignment changed; records not yet batched will be fetched again"
            );
        }
        self.partitions.clear();
        self.held.clear();
        for (topic, partition) in assigned {
            let mut queue = self.consumer.split_partition_queue(&topic, partition);
            if let Some(q) = &mut queue {
                let signal = self.signal.clone();
                q.set_nonempty_callback(move || signal.notify());
            }
            self.partitions.push(Partition {
                topic,
                partition,
                queue,
            });
            self.held.push(VecDeque::new());
        }
    }

    /// Tops up what each partition holds; true if any partition has a backlog.
    fn take_all(&mut self) -> bool {
        let mut backlog = false;
        let ctx = self.consumer.context();
        for (p, held) in self.partitions.iter().zip(self.held.iter_mut()) {
            backlog |= take_from(p, held, ctx);
        }
        backlog
    }

    fn held(&self) -> usize {
        self.held.iter().map(VecDeque::len).sum()
    }

    /// The next batch's records, oldest first across partitions.
    fn cut(&mut self, max: usize) -> Vec<RawRecord> {
        let partitions = &self.partitions;
        let ctx = self.consumer.context();
        take_in_time_order(
            &mut self.held,
            |i, held| {
                take_from(&partitions[i], held, ctx);
            },
            max,
        )
    }
}

/// Where the fetch stage's time went, in seconds.
#[derive(Debug, Default)]
pub(crate) struct Timings {
    /// Nothing to read.
    pub idle: f64,
    /// Waiting for a live batch to fill (up to the batch wait).
    pub filling: f64,
    pub decoding: f64,
    /// Waiting for a lane to take its share.
    pub queued: f64,
}

/// Runs until `shutdown` turns true (or its sender is gone) or a lane stops. Blocking:
/// run it on a thread of its own.
pub(crate) fn run(
    consumer: Consumer,
    signal: Arc<Signal>,
    settings: Settings,
    lanes: Vec<mpsc::Sender<(Vec<RawRecord>, Batch)>>,
    shutdown: watch::Receiver<bool>,
) -> Timings {
    let mut f = Fetcher {
        consumer,
        signal,
        generation: 0,
        partitions: Vec::new(),
        held: Vec::new(),
    };
    let mut t = Timings::default();
    let mut first_at: Option<Instant> = None;
    'fetch: while !*shutdown.borrow() && shutdown.has_changed().is_ok() {
        f.serve_main();
        let backlog = f.take_all();
        let held = f.held();
        if held == 0 {
            first_at = None;
            let w = Instant::now();
            f.signal.wait(Duration::from_millis(50));
            t.idle += w.elapsed().as_secs_f64();
            continue;
        }
        // Live, a batch waits up to `batch_wait` after its first record for more; a
        // backlog fills it at once.
        let first = *first_at.get_or_insert_with(Instant::now);
        let left = settings.batch_wait.saturating_sub(first.elapsed());
        if !backlog && held < settings.batch_max && !left.is_zero() {
            let w = Instant::now();
            f.signal.wait(left);
            t.filling += w.elapsed().as_secs_f64();
            continue;
        }
        first_at = None;
        let records = f.cut(settings.batch_max);
        for (lane, records) in split_by_lane(records, lanes.len()).into_iter().enumerate() {
            if records.is_empty() {
                continue;
            }
            let w = Instant::now();
            let mut batch = batch_of(&records, &settings.topics);
            batch.set_incarnations(|t, p| f.consumer.context().incarnation(t, p));
            t.decoding += w.elapsed().as_secs_f64();
            let w = Instant::now();
            let sent = lanes[lane].blocking_send((records, batch));
            t.queued += w.elapsed().as_secs_f64();
            if sent.is_err() {
                break 'fetch; // a writer stopped (shutdown)
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_given_before_the_wait_is_not_lost() {
        let s = Signal::default();
        s.notify();
        let t = Instant::now();
        s.wait(Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}
