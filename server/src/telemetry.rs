//! Logging with `tracing`: readable lines by default, JSON when `SWITCHYARD_LOG_FORMAT=json`.
//! The filter comes from `RUST_LOG` (default: info for Switchyard, warn for dependencies).

use crate::config::LogFormat;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,switchyard=info,switchyard_app=info"));
    let registry = tracing_subscriber::registry().with(filter);
    // `try_init`: tests may initialise more than once in one process.
    let _ = match format {
        LogFormat::Pretty => registry.with(fmt::layer().with_target(false)).try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false),
            )
            .try_init(),
    };
}
