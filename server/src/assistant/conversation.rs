//! Conversations kept per user session in PostgreSQL (`assistant_conversations`,
//! `assistant_turns`): a follow-up question sees the earlier turns, and the sidebar can
//! show them again. A conversation belongs to the user who started it; asking with someone
//! else's id (or a made-up one) starts a new conversation instead.

use super::backend::Message;
use sqlx::PgPool;
use switchyard_app::assistant::ChatTurn;
use uuid::Uuid;

/// Turns of earlier context a question is given (user and assistant turns both count).
pub const CONTEXT_TURNS: usize = 10;

/// The conversation to continue: `requested` if it is `owner`'s, else a new one.
pub async fn open(
    pool: &PgPool,
    owner: &str,
    requested: Option<&str>,
    backend: &str,
) -> sqlx::Result<Uuid> {
    if let Some(id) = requested.and_then(|r| r.parse::<Uuid>().ok()) {
        let mine: Option<Uuid> = sqlx::query_scalar(
            "UPDATE assistant_conversations SET updated_at = now()
             WHERE id = $1 AND owner = $2 RETURNING id",
        )
        .bind(id)
        .bind(owner)
        .fetch_optional(pool)
        .await?;
        if let Some(id) = mine {
            return Ok(id);
        }
    }
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO assistant_conversations (id, owner, backend) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(owner)
        .bind(backend)
        .execute(pool)
        .await?;
    Ok(id)
}

/// The turns of `owner`'s conversation `id`, oldest first (empty if it is not theirs).
pub async fn turns(pool: &PgPool, id: &str, owner: &str) -> sqlx::Result<Vec<ChatTurn>> {
    let Ok(id) = id.parse::<Uuid>() else {
        return Ok(Vec::new());
    };
    let rows: Vec<(serde_json::Value,)> = sqlx::query_as(
        "SELECT t.turn FROM assistant_turns t
         JOIN assistant_conversations c ON c.id = t.conversation_id
         WHERE c.id = $1 AND c.owner = $2 ORDER BY t.id",
    )
    .bind(id)
    .bind(owner)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(v,)| serde_json::from_value(v).ok())
        .collect())
}

pub async fn append(pool: &PgPool, id: Uuid, turn: &ChatTurn) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO assistant_turns (conversation_id, role, turn) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(&turn.role)
        .bind(serde_json::to_value(turn).unwrap_or_default())
        .execute(pool)
        .await?;
    Ok(())
}

/// The last turns as plain-text messages for the model.
pub fn as_messages(turns: &[ChatTurn]) -> Vec<Message> {
    let skip = turns.len().saturating_sub(CONTEXT_TURNS);
    turns
        .iter()
        .skip(skip)
        .filter(|t| !t.text.is_empty())
        .map(|t| {
            if t.role == "user" {
                Message::user_text(&t.text)
            } else {
                Message::assistant_text(&t.text)
            }
        })
        .collect()
}
