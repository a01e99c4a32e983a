//! What the browser may read of an error. A database's, a broker's or the file system's
//! message names tables, hosts and paths: it goes to the log with a short reference, and
//! the browser gets the reference (`switchyard_app::ops::HIDE_INTERNAL`, set by
//! [`crate::http::router`]). Refusals and validation messages are the user's to read.

use std::error::Error;

/// Logs `e` and returns its reference when anything in its source chain is internal.
pub fn hide_internal(e: &(dyn Error + 'static)) -> Option<String> {
    let mut cur = Some(e);
    let mut internal = false;
    while let Some(x) = cur {
        if x.is::<sqlx::Error>()
            || x.is::<rdkafka::error::KafkaError>()
            || x.is::<std::io::Error>()
            || x.is::<sqlx::migrate::MigrateError>()
        {
            internal = true;
            break;
        }
        cur = x.source();
    }
    if !internal {
        return None;
    }
    let reference = format!("{:08x}", rand::random::<u32>());
    tracing::error!(%reference, error = %e, "internal error (the browser got only the reference)");
    Some(reference)
}
