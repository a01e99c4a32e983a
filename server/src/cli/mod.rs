//! The `switchyard` command line: the console's commands, one module each. `main` parses
//! and calls [`run`], which sets up logging once and dispatches.
//!
//! The fleet (`switchyard-fleet`) and the benchmarks, seeding, evaluation and demo
//! (`switchyard-tools`) are binaries of their own crates.

pub mod ingest;
pub mod replay;
pub mod serve;
pub mod user;
pub mod verify;

use crate::config::Db;
use clap::{Parser, Subcommand};
use switchyard_contract::process::{self, Common};

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Operations console for event-driven microservices"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the console: web UI, live push and Kafka ingest.
    Serve(Box<serve::ServeArgs>),
    /// Run only the Kafka ingest (no web server).
    Ingest(Box<ingest::IngestArgs>),
    /// Rebuild the projections from the event store and compare; exits 1 on a difference.
    Verify(Db),
    /// Replay one dead letter to its original topic (sent once, however often asked).
    Replay(replay::ReplayArgs),
    /// Manage console users: `user add --role admin <name>`, `user set`, `user list`.
    User {
        #[command(flatten)]
        db: Db,
        #[command(subcommand)]
        action: user::UserAction,
    },
    /// Apply database migrations and exit.
    Migrate(Db),
}

/// Runs one command to its end (a long-running one until Ctrl-C or SIGTERM).
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let Cli { common, command } = cli;
    process::init_logging(common.log_format);
    match command {
        Command::Serve(args) => serve::run(&common, *args).await,
        Command::Ingest(args) => ingest::run(&common, *args).await,
        Command::Verify(db) => verify::run(&db).await,
        Command::Replay(args) => replay::run(&common, args).await,
        Command::User { db, action } => {
            user::run(&crate::db::connect(&db.database_url).await?, action).await
        }
        Command::Migrate(db) => {
            crate::db::connect(&db.database_url).await?;
            println!("migrations applied");
            Ok(())
        }
    }
}
