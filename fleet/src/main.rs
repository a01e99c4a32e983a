//! `switchyard-fleet`: the demo services that produce the event contract, a fault switch,
//! and a one-shot producer for orders or raw records.

use clap::{Args, Parser, Subcommand};
use switchyard_contract::kafka;
use switchyard_contract::process::{self, Common};
use switchyard_fleet::launch::{self, RunOptions};
use switchyard_fleet::runtime::{Mode, Service};
use switchyard_fleet::{faults, orders, store};

#[derive(Parser)]
#[command(
    name = "switchyard-fleet",
    version,
    about = "The services Switchyard watches in its demo"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Db {
    /// PostgreSQL connection string (the fleet keeps its state in the schema `fleet`).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
}

#[derive(Subcommand)]
enum Command {
    /// Run the order, inventory, payment, shipment and notification services, talking only
    /// through Kafka.
    Run {
        #[command(flatten)]
        db: Db,
        /// New orders per second (the order service's load generator).
        #[arg(long, default_value_t = 2.0)]
        rate: f64,
        /// Run only these services (repeatable or comma-separated): order, inventory,
        /// payment, shipment, notification, all.
        #[arg(long = "service", value_delimiter = ',', default_value = "all")]
        services: Vec<String>,
        /// How the order saga runs: orchestrated (the order service drives it) or
        /// choreographed (services react to each other's events).
        #[arg(long, default_value = "orchestrated")]
        mode: Mode,
        /// Take the payment gateway down for 15 s every 60 s.
        #[arg(long)]
        chaos: bool,
        /// How long finished orders' rows stay in the fleet's tables (`90s`, `20m`, `7d`).
        #[arg(long, env = "SWITCHYARD_FLEET_RETAIN", default_value = "7d", value_parser = humantime::parse_duration)]
        retain: std::time::Duration,
    },
    /// Set a fault while the fleet runs (`switchyard-fleet fault payment_outage 1`).
    Fault {
        #[command(flatten)]
        db: Db,
        name: String,
        value: f64,
    },
    /// Publish orders (or one raw record) to Kafka, then exit.
    Produce {
        /// How many `order.created` events to publish.
        #[arg(long, default_value_t = 1)]
        count: u64,
        /// Use this order id (only with --count 1).
        #[arg(long)]
        order_id: Option<String>,
        /// Publish these bytes as they are to `--topic` instead of orders.
        #[arg(long)]
        raw: Option<String>,
        #[arg(long, default_value = "order.created")]
        topic: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Cli { common, command } = Cli::parse();
    process::init_logging(common.log_format);
    match command {
        Command::Run {
            db,
            rate,
            services,
            mode,
            chaos,
            retain,
        } => {
            let stop = process::stop_on_signal();
            let services = Service::parse_list(&services)?;
            let (brokers, _embedded) = kafka::brokers_or_embedded(
                common.kafka_brokers.as_deref(),
                Some(kafka::topics::Creation::default()),
            )
            .await?;
            let run = RunOptions {
                rate,
                chaos,
                mode,
                services,
                retain,
            };
            launch::run(&db.database_url, &brokers, run, stop).await
        }
        Command::Fault { db, name, value } => {
            faults::set(&store::connect(&db.database_url).await?, &name, value).await?;
            println!("{name} = {value}");
            Ok(())
        }
        Command::Produce {
            count,
            order_id,
            raw,
            topic,
        } => {
            let brokers = common
                .kafka_brokers
                .ok_or_else(|| anyhow::anyhow!("produce needs KAFKA_BROKERS"))?;
            let producer = kafka::producer(&brokers)?;
            if let Some(raw) = raw {
                let (p, o) =
                    switchyard_contract::publish_raw(&producer, &topic, None, raw.as_bytes())
                        .await?;
                println!("{topic}/{p}@{o}");
                return Ok(());
            }
            let mut rng = rand::rng();
            for _ in 0..count {
                let id = order_id.clone().unwrap_or_else(orders::new_order_id);
                let env = orders::new_order(&id, &mut rng);
                let (p, o) = switchyard_contract::publish(&producer, &env).await?;
                println!("{id} {}/{p}@{o}", env.event_type);
            }
            Ok(())
        }
    }
}
