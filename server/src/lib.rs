//! The `switchyard` server as a library, so integration tests and benchmarks drive the same
//! code the binary runs. See ARCHITECTURE.md for the map.

pub mod admin;
pub mod assistant;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod config;
pub mod console;
pub mod contract;
pub mod db;
pub mod fleet;
pub mod http;
pub mod ingest;
pub mod kafka;
pub mod live;
pub mod metrics;
pub mod ops;
pub mod page_bench;
pub mod push_bench;
pub mod replay;
pub mod seed;
pub mod telemetry;
pub mod trace_context;
