//! `switchyard serve`: the console — HTTP (pages, server functions, live push), ingest,
//! and this instance's replay-job runner — until Ctrl-C or SIGTERM.

use crate::assistant::Assistant;
use crate::auth::Auth;
use crate::config::{
    AssistantConfig, AuthConfig, Db, Http, IngestConfig, RegistryConfig, ReplayConfig,
    RetentionConfig,
};
use crate::fanout::LiveHub;
use crate::http::{router, AppState};
use crate::read_model::sources::Sources;
use crate::read_model::{LogEnds, PgOps};
use crate::replay::api::PgDeadLetters;
use crate::{admin, db, ingest::consumer, replay::runner::Runner};
use leptos::prelude::LeptosOptions;
use std::sync::Arc;
use std::time::Duration;
use switchyard_contract::kafka;
use switchyard_contract::process::{self, Common};
use tokio::sync::watch;

#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: Db,
    #[command(flatten)]
    pub http: Http,
    #[command(flatten)]
    pub ingest: IngestConfig,
    #[command(flatten)]
    pub replay: ReplayConfig,
    #[command(flatten)]
    pub auth: AuthConfig,
    #[command(flatten)]
    pub assistant: AssistantConfig,
    #[command(flatten)]
    pub retention: RetentionConfig,
    #[command(flatten)]
    pub registry: RegistryConfig,
    /// Serve only; leave ingest to other instances.
    #[arg(long)]
    pub no_ingest: bool,
}

pub async fn run(common: &Common, args: ServeArgs) -> anyhow::Result<()> {
    let stop = process::stop_on_signal();
    args.ingest.topic_lists()?; // a bad pattern is said before connecting anywhere
    args.registry.registry()?; // and a bad registry setting
    let (brokers, _embedded) = kafka::brokers_or_embedded(
        common.kafka_brokers.as_deref(),
        args.ingest.topic_creation(),
    )
    .await?;
    run_on(&brokers, args, stop).await
}

/// The console on the given brokers, until `stop` turns true.
pub async fn run_on(
    brokers: &str,
    args: ServeArgs,
    stop_rx: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let ServeArgs {
        db,
        http,
        ingest,
        replay,
        auth,
        assistant,
        retention,
        registry,
        no_ingest,
    } = args;
    let registry = registry.registry()?;
    let connected = db::connect_with(&db.database_url, db.db_pool, db.db_statement_timeout_ms);
    let Some(pool) = unless_stopped(&stop_rx, connected).await.transpose()? else {
        return stopped_in_start_up();
    };
    // Partitions exist before anything is written; retention runs here whether or not
    // this instance ingests (several instances take turns by advisory locks).
    let retention = crate::retention::start(&pool, retention, stop_rx.clone());
    let Some(retention_task) = unless_stopped(&stop_rx, retention).await.transpose()? else {
        return stopped_in_start_up();
    };
    let Some((auth, sessions)) = unless_stopped(&stop_rx, Auth::start(pool.clone(), auth))
        .await
        .transpose()?
    else {
        retention_task.abort();
        return stopped_in_start_up();
    };
    // From here on Kafka clients exist: the stop goes through the orderly path below.
    let ingest_settings = super::ingest::settings(brokers, &db, &ingest)?;
    let masker = ingest_settings.topics.masker.clone();
    let ingest_task = (!no_ingest).then(|| {
        let (pool, settings, stop) = (pool.clone(), ingest_settings.clone(), stop_rx.clone());
        tokio::spawn(async move {
            if let Err(e) = consumer::run(pool, settings, stop).await {
                tracing::error!(error = %e, "ingest stopped with an error");
            }
        })
    });
    let hub = LiveHub::new();
    let hub_task = tokio::spawn(hub.clone().run(pool.clone()));
    // Replay jobs: this instance's runner resumes running jobs whose runner is gone.
    let runner = Runner::new(
        pool.clone(),
        brokers,
        Duration::from_secs(replay.replay_lease_secs.max(1)),
        replay.replay_batch,
    )?;
    let runner_task = tokio::spawn(runner.run(stop_rx.clone()));
    // Saga-command batches: this instance sends batches whose runner is gone.
    let batches = crate::saga_actions::runner::Runner::new(
        pool.clone(),
        brokers,
        Duration::from_secs(replay.replay_lease_secs.max(1)),
    )?;
    let batch_task = tokio::spawn(batches.run(stop_rx.clone()));
    let readable_task = tokio::spawn(crate::replay::readable::run(
        pool.clone(),
        registry.clone(),
        masker.clone(),
        stop_rx.clone(),
    ));

    let leptos_options = LeptosOptions::builder()
        .output_name("switchyard")
        .site_root(http.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(http.addr)
        .build();
    let (push_streams, ask_gate) = AppState::gates(&http.limits);
    // One producer for the readiness probe and the admin page's cluster metadata.
    let producer = kafka::producer(brokers)?;
    let log_ends = LogEnds::connect(brokers)?;
    let state = AppState {
        leptos_options,
        auth,
        pool: pool.clone(),
        hub,
        ops: Arc::new(PgOps::new(pool.clone()).with_masker(masker.clone())),
        dlq: Arc::new(
            PgDeadLetters::new(pool.clone(), brokers, replay.max_replays)?
                .with_registry(registry)
                .with_masker(masker.clone()),
        ),
        saga: Arc::new(crate::saga_actions::PgSagaActions::new(
            pool.clone(),
            brokers,
        )?),
        admin: Arc::new(admin::PgAdmin::with_sources(
            pool.clone(),
            Sources {
                brokers: brokers.to_string(),
                group: ingest.group_id.clone(),
                topics: ingest_settings.topics.clone(),
                kafka: producer.clone(),
                log_ends: log_ends.clone(),
            },
        )),
        assistant: Arc::new(Assistant::from_config(pool, &assistant)?),
        kafka: producer,
        log_ends,
        ready: Default::default(),
        limits: http.limits.clone(),
        push_streams,
        ask_gate,
    };
    let listener = tokio::net::TcpListener::bind(http.addr).await?;
    let url = format!("http://{}", listener.local_addr()?);
    tracing::info!(%url, "Switchyard console listening");
    println!("Switchyard console: {url}");
    let app = router(state, sessions);
    let mut stopped = stop_rx.clone();
    crate::http::listen::serve(listener, app, &http.limits, async move {
        let _ = stopped.wait_for(|s| *s).await;
    })
    .await?;
    // Everything that holds a Kafka client ends before this returns, so a caller's embedded
    // broker outlives its clients (a client whose broker vanished reconnects for ever).
    // Each part is bounded; the process's own bound (`process::stop_within`) is the last word.
    let ingest_stopped = async {
        if let Some(t) = ingest_task {
            let _ = t.await;
        }
    };
    // A batch round held up by the broker is abandoned at its bound: its commands are
    // sent again after a restart, with the same ids.
    let batch_abort = batch_task.abort_handle();
    let (_, _, batch) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(6), ingest_stopped),
        tokio::time::timeout(Duration::from_secs(3), runner_task),
        tokio::time::timeout(Duration::from_secs(3), batch_task),
    );
    if batch.is_err() {
        batch_abort.abort();
    }
    hub_task.abort();
    retention_task.abort();
    readable_task.abort();
    tracing::info!("console stopped");
    Ok(())
}

/// Runs one start-up step (migrations, partitions, sessions) unless a stop comes first.
/// A signal while the database is slow ends the start-up there, before any Kafka client
/// exists, rather than after every step has run and the orderly stop has its own waits.
async fn unless_stopped<T>(
    stop: &watch::Receiver<bool>,
    step: impl std::future::Future<Output = T>,
) -> Option<T> {
    let mut stop = stop.clone();
    let stopped = async move {
        if stop.wait_for(|s| *s).await.is_err() {
            // The sender is gone without a stop: nothing will ever stop this step.
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        biased;
        _ = stopped => None,
        v = step => Some(v),
    }
}

fn stopped_in_start_up() -> anyhow::Result<()> {
    tracing::info!("stopped during start-up");
    Ok(())
}
