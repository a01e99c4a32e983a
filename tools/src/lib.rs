//! `switchyard-tools`: the lab beside the product. Benchmarks of the console's ingest,
//! replay, pages and live push; the soak (the whole system for hours, judged for
//! flatness); the seeder that fills a read model at volume; the
//! synthetic event mix they produce; the offline assistant's evaluation; and the demo that
//! runs console and fleet in one process. It depends on the console, the fleet and the
//! contract; nothing depends on it but tests.

pub mod assistant_eval;
pub mod cli;
pub mod decode_bench;
pub mod demo;
pub mod ingest_bench;
pub mod page_bench;
pub mod push_bench;
pub mod replay_bench;
pub mod seed;
pub mod soak;
pub mod synthetic;
