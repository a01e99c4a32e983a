//! One fleet process as `switchyard-fleet run` and the demo start it: the chosen services,
//! the load generator (with the order service), and optional demo chaos, until stopped.

use crate::runtime::{Fleet, Mode, Service};
use crate::{breaker, faults, store};
use std::sync::Arc;
use std::time::Duration;
use switchyard_contract::kafka;
use tokio::sync::watch;

/// What [`run`] runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// New orders per second (the order service's load generator).
    pub rate: f64,
    /// A payment-gateway outage of 15 s every 60 s.
    pub chaos: bool,
    pub mode: Mode,
    pub services: Vec<Service>,
    /// How long finished work stays in the fleet's tables (`retention`).
    pub retain: std::time::Duration,
}

/// Runs the fleet in this process until `stop` turns true.
pub async fn run(
    database_url: &str,
    brokers: &str,
    run: RunOptions,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let pool = store::connect(database_url).await?;
    faults::set_defaults(&pool).await?;
    let fleet = Arc::new(Fleet::new(
        pool.clone(),
        kafka::renewing::RenewingProducer::new(brokers)?,
        brokers,
        breaker::Config {
            window_size: 20,
            minimum_calls: 10,
            ..Default::default()
        },
        run.mode,
    ));
    if run.chaos && run.services.contains(&Service::Order) {
        tokio::spawn(Fleet::chaos(
            pool.clone(),
            Duration::from_secs(60),
            Duration::from_secs(15),
            stop.clone(),
        ));
    }
    tokio::spawn(crate::retention::run(
        pool.clone(),
        run.retain,
        stop.clone(),
    ));
    let names: Vec<_> = run.services.iter().map(|s| s.name()).collect();
    tracing::info!(rate = run.rate, chaos = run.chaos, mode = run.mode.as_str(), services = ?names, "fleet running");
    fleet.run(&run.services, run.rate, stop).await;
    tracing::info!("fleet stopped");
    Ok(())
}
