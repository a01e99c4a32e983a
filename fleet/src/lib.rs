//! The fleet: the order, inventory, payment, shipment and notification services that
//! produce the event contract. They talk only through Kafka (the contract's topics), each
//! as its own consumer group, and can run in one process or each in its own
//! ([`runtime`]); the order saga runs orchestrated ([`orchestrator`]) or choreographed
//! ([`choreography`]).
//!
//! The fleet knows the console only through the event contract (`switchyard-contract`):
//! it imports nothing else of Switchyard. Its state lives in its own schema (`fleet`, with
//! its own migrations in `fleet/migrations/`); its faults are set through the narrow
//! interface of [`faults`].

pub mod aggregate;
pub mod breaker;
pub mod bus;
pub mod choreography;
pub mod commands;
pub mod dependency;
pub mod effects;
pub mod events;
pub mod faults;
pub mod launch;
pub mod notification;
pub mod orchestrator;
pub mod order_service;
pub mod orders;
pub mod retention;
pub mod runtime;
pub mod saga;
pub mod step_service;
pub mod store;
