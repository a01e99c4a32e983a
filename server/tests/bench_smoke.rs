//! The ingest benchmark still runs end to end (small N), so `make bench-ingest` keeps working.

mod common;

use common::Broker;
use switchyard_tools::ingest_bench::{run, BenchArgs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_bench_runs_and_reports() {
    switchyard_contract::process::init_logging(switchyard_contract::process::LogFormat::Pretty);
    let broker = Broker::start().await;
    run(BenchArgs {
        admin_url: std::env::var("DATABASE_URL").expect("DATABASE_URL"),
        brokers: broker.bootstrap.clone(),
        records: 3000,
        batch_max: 500,
        batch_wait: std::time::Duration::from_millis(switchyard::config::DEFAULT_BATCH_WAIT_MS),
        lanes: 2,
        latency_rate: 1000,
        latency_secs: 1,
        // Checked every second: any incident on this healthy log fails the run.
        log_check_secs: 1,
    })
    .await
    .expect("bench runs");
}
