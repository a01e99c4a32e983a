//! One module per page of the console.

pub mod admin;
pub mod breakers;
pub mod dead_letter_detail;
pub mod dead_letters;
pub mod order_detail;
pub mod orders;
pub mod overview;
pub mod quarantine;
pub mod replay_jobs;
pub mod saga_actions;
pub mod saga_batches;
