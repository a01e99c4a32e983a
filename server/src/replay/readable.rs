//! Dead letters made readable behind ingest: each new dead letter's payload decoded (JSON,
//! text, or a Schema Registry format read with its schema) and masked
//! ([`crate::masking`]) into `dead_letters.readable`, which search (the list's payload
//! filter) and the assistant's tools read.
//!
//! Why behind ingest and not in it: decoding a framed value may ask the registry over
//! HTTP, and ingest must never wait for a registry (it is pure up to the write). Why
//! stored and not decoded per request: a search must run in the database, over text that
//! is already masked, so that a masked value cannot be found by searching for it. A dead
//! letter whose schema the registry could not be asked for stays unread and is tried
//! again next round; one that can never be decoded (no registry, an unknown id) is stored
//! as the page shows it, raw. Several consoles may read the same rows: each writes only
//! rows still unread, and they write the same text.

use super::query::{readable, Readable};
use super::view;
use crate::masking::Masker;
use crate::payload::registry::Registry;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often unread dead letters are looked for.
pub const EVERY: Duration = Duration::from_secs(2);
/// Dead letters read per round.
const BATCH: i64 = 200;

/// Reads unread dead letters every [`EVERY`] until `stop`.
pub async fn run(
    pool: PgPool,
    registry: Option<Arc<Registry>>,
    masker: Masker,
    mut stop: watch::Receiver<bool>,
) {
    let mut failing = false;
    loop {
        match read_some(&pool, registry.as_deref(), &masker).await {
            Ok(n) => {
                failing = false;
                if n as i64 == BATCH && !*stop.borrow() {
                    continue;
                }
            }
            Err(e) if !failing => {
                tracing::warn!(error = %e, "dead letters not made readable (retrying)");
                failing = true;
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// One round: up to [`BATCH`] unread dead letters decoded, masked and stored; how many
/// were stored (those waiting for the registry are not: a full round of them does not
/// make the next one come sooner).
pub async fn read_some(
    pool: &PgPool,
    registry: Option<&Registry>,
    masker: &Masker,
) -> sqlx::Result<usize> {
    let rows: Vec<(i64, String, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT id, original_topic, raw_value FROM dead_letters
         WHERE readable IS NULL ORDER BY id LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(pool)
    .await?;
    let mut stored = 0;
    for (id, topic, raw) in &rows {
        let Readable {
            payload,
            format,
            settled,
            ..
        } = readable(raw.as_deref(), registry).await;
        if !settled {
            continue;
        }
        let format = format.unwrap_or_else(|| payload.kind().to_string());
        let shown = view::masked_payload(payload, &masker.for_topic(topic));
        sqlx::query(
            "UPDATE dead_letters SET readable = $2, readable_format = $3
             WHERE id = $1 AND readable IS NULL",
        )
        .bind(id)
        .bind(shown.text())
        .bind(format)
        .execute(pool)
        .await?;
        stored += 1;
    }
    Ok(stored)
}
