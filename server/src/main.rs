//! `switchyard`: the console's binary. Everything it does is in the library's
//! [`cli`](switchyard::cli) module, one module per command.

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    switchyard::cli::run(switchyard::cli::Cli::parse()).await
}
