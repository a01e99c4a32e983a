//! One module per page of the console.

pub mod admin;
pub mod order_detail;
pub mod orders;
pub mod quarantine;
