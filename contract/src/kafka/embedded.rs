//! The embedded broker: librdkafka's in-process mock cluster, for `make demo` and quick
//! runs without a Kafka. It speaks the real protocol on a loopback port, so every client in
//! this process (and any other process given its address) uses the ordinary code paths.
//! It keeps everything in memory: durable runs point `KAFKA_BROKERS` at a real broker.
//!
//! The mock is not `Send`, so it lives on a thread of its own until the handle is dropped.

use rdkafka::mocking::MockCluster;
use std::sync::mpsc;
use std::thread;

pub struct EmbeddedBroker {
    bootstrap: String,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EmbeddedBroker {
    /// Starts a one-broker mock cluster with the given topics already created.
    pub fn start(topics: &[String], partitions: i32) -> anyhow::Result<Self> {
        let (ready_tx, ready_rx) = mpsc::channel::<anyhow::Result<String>>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let topics = topics.to_vec();
        let thread = thread::Builder::new()
            .name("embedded-kafka".into())
            .spawn(move || {
                let cluster = match MockCluster::new(1) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                for t in &topics {
                    if let Err(e) = cluster.create_topic(t, partitions, 1) {
                        let _ = ready_tx.send(Err(anyhow::anyhow!("create {t}: {e}")));
                        return;
                    }
                }
                let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                // Parked until the handle is dropped (or its sender vanishes).
                let _ = stop_rx.recv();
                drop(cluster);
            })?;
        let bootstrap = ready_rx.recv()??;
        Ok(EmbeddedBroker {
            bootstrap,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
