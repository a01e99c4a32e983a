//! `switchyard-tools demo`: the whole system in one process for `make demo` — the
//! embedded broker (unless `KAFKA_BROKERS` is set), the fleet with demo chaos (a payment
//! outage of 15 s every minute), and the console — until Ctrl-C or SIGTERM stops all of it.
//!
//! It lives here, not in the console: the console never imports the fleet, and this crate
//! is where the two meet.

use switchyard::cli::serve::{self, ServeArgs};
use switchyard_contract::kafka;
use switchyard_contract::process;
use switchyard_fleet::launch::{self, RunOptions};
use switchyard_fleet::runtime::{Mode, Service};

pub async fn run(
    kafka_brokers: Option<&str>,
    rate: f64,
    serve_args: ServeArgs,
) -> anyhow::Result<()> {
    let stop = process::stop_on_signal();
    let (brokers, _embedded) =
        kafka::brokers_or_embedded(kafka_brokers, Some(kafka::topics::Creation::default())).await?;
    let fleet = {
        let (url, brokers) = (serve_args.db.database_url.clone(), brokers.clone());
        let run = RunOptions {
            rate,
            chaos: true,
            mode: Mode::Orchestrated,
            services: Service::ALL.to_vec(),
            // The demo keeps a day of the fleet's finished work.
            retain: std::time::Duration::from_secs(86_400),
        };
        let stop = stop.clone();
        tokio::spawn(async move {
            if let Err(e) = launch::run(&url, &brokers, run, stop).await {
                tracing::error!(error = %e, "demo fleet stopped");
            }
        })
    };
    let served = serve::run_on(&brokers, serve_args, stop).await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), fleet).await;
    served
}
