//! `switchyard-tools`: the benchmarks, the seeder, the assistant's evaluation and the
//! one-process demo. Commands are in [`cli`](switchyard_tools::cli).

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    switchyard_tools::cli::run(switchyard_tools::cli::Cli::parse()).await
}
