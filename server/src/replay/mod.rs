//! Dead-letter replay: the engine behind the dead-letter console and `switchyard replay`.
//!
//! A replay sends a dead letter's original key and value back to its original topic with
//! a chosen set of headers, stamped `x-replay-id`, `x-replay-count`, `x-replayed-by`:
//!
//! - **Once.** A unique index allows one live replay per dead letter, so concurrent
//!   requests (double click, two operators, a job and a button) send it once.
//! - **Once, even across a crash.** Before a replay is marked `sending`, the target
//!   partitions' high watermarks are recorded with it in the same transaction; a replay
//!   found `sending` later is looked for from there ([`recover`]) instead of re-sent blind.
//! - **Parked, not looped.** A message already replayed `max_replays` times is parked.
//!
//! Files, by job: [`headers`] (policy and stamps), [`claim`] (who may send what, settling),
//! [`send`] (producing), [`watermarks`] and [`recover`] (the crash-proof part), [`one`]
//! (replay one now), [`job`] and [`runner`] (jobs: snapshot, throttle, progress, cancel,
//! resume), [`filter`], [`query`] and [`view`] (what the pages read), [`discard`], and
//! [`api`] (the app's `DeadLetterApi` over all of it).

pub mod api;
pub mod claim;
pub mod discard;
pub mod edit;
pub mod filter;
pub mod headers;
pub mod hold;
pub mod job;
pub mod one;
pub mod query;
pub mod readable;
pub mod recover;
pub mod runner;
pub mod send;
pub mod view;
pub mod watermarks;

pub use headers::{replay_headers, DEFAULT_STRIPPED};
pub use job::REPLAY_CHANNEL;
pub use one::{replay_one, Replayed};

/// Replays of one message allowed before it is parked (`SWITCHYARD_MAX_REPLAYS`).
pub const DEFAULT_MAX_REPLAYS: i32 = 3;
