//! `switchyard replay ID`: replays one dead letter to its original topic, once however
//! often asked ([`crate::replay::replay_one`]).

use crate::config::{Db, ReplayConfig};
use switchyard_contract::kafka;
use switchyard_contract::process::Common;

#[derive(clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    db: Db,
    /// The dead letter's id (as shown in the console).
    id: i64,
    /// Who asks (stamped as `x-replayed-by` and kept with the replay).
    #[arg(long, env = "USER", default_value = "cli")]
    by: String,
    #[command(flatten)]
    replay: ReplayConfig,
}

pub async fn run(common: &Common, args: ReplayArgs) -> anyhow::Result<()> {
    let brokers = kafka::configured_brokers(common.kafka_brokers.as_deref())?
        .ok_or_else(|| anyhow::anyhow!("replay needs KAFKA_BROKERS"))?;
    let pool = crate::db::connect(&args.db.database_url).await?;
    let outcome = crate::replay::replay_one(
        &pool,
        &kafka::producer(&brokers)?,
        &crate::replay::watermarks::Watermarks::new(&brokers)?,
        args.id,
        &crate::audit::Actor::cli(args.by),
        args.replay.max_replays,
    )
    .await?;
    println!("{outcome:?}");
    Ok(())
}
