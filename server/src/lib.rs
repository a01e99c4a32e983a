//! `switchyard`: the console as a library — what `switchyard serve`, `ingest`, `verify`,
//! `replay`, `user` and `migrate` run ([`cli`]), so integration tests and the tools drive
//! the same code. ARCHITECTURE.md is the map; in short, data flows one way:
//! Kafka → [`ingest`] → PostgreSQL → [`read_model`] (and [`replay`]'s reads) → [`http`] →
//! pages in `switchyard-app`.

pub mod admin;
pub mod assistant;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod errors;
pub mod fanout;
pub mod http;
pub mod ingest;
pub mod masking;
pub mod metrics;
pub mod payload;
pub mod read_model;
pub mod replay;
pub mod retention;
pub mod saga_actions;
