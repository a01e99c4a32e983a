//! The read model: every query behind the pages and the assistant's tools, over the tables
//! ingest maintains. Pages reach it through the app's contracts ([`PgOps`] implements
//! `OpsApi`, [`PgConsole`] implements `ConsoleApi`); the assistant's tools call the same
//! functions inside their read-only transactions. The dead-letter reads and their one
//! filter are in [`crate::replay`] (`filter`, `query`, `view`), beside the replays they
//! preview.
//!
//! Data flows one way: ingest writes, this module reads; nothing here writes or imports
//! ingest's writer.

pub mod commands;
pub mod console;
pub mod log_ends;
pub mod orders;
pub mod scrape;
pub mod sources;

pub use console::PgConsole;
pub use log_ends::LogEnds;
pub use orders::PgOps;

/// `text` with `%`, `_` and `\` taken literally in a LIKE/ILIKE pattern (the escape
/// character is PostgreSQL's default, `\`).
pub fn like_escape(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_escape_takes_wildcards_literally() {
        assert_eq!(super::like_escape("ORD-1"), "ORD-1");
        assert_eq!(super::like_escape("50%_off\\"), "50\\%\\_off\\\\");
    }
}
