//! One module per page of the console.

pub mod orders;
