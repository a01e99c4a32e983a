//! Edit and resend: an operator fixes a dead letter's payload or headers (or sends it to
//! another topic) and sends the edited copy as a replay — claimed, sent once, settled,
//! followed to its outcome like any other — with what changed recorded beside it
//! (`replay_edits`) and in the audit log.
//!
//! What the operator edits is what the detail page shows: the payload decoded and masked.
//! So a JSON field still showing its mask is taken as unchanged and keeps its original
//! value; a text payload with masked parts cannot be edited by hand (an admin reveals it
//! first). A payload in the Schema Registry's wire format is edited as JSON and written
//! back with the same schema (and Protobuf's same message), or the edit is refused with
//! the encoder's reason. What changed is described with masked values only.

use crate::masking::{Masker, TopicRules};
use crate::payload::{framing, registry::Registry, write_framed};
use serde_json::{Map, Value};
use sqlx::PgPool;
use switchyard_app::dlq::EditForm;
use switchyard_contract::topic_selection::looks_like_dead_letter_topic;

/// An edited copy ready to send.
#[derive(Clone, Debug, PartialEq)]
pub struct Edit {
    pub topic: String,
    pub value: Option<Vec<u8>>,
    /// Stored form (`[{"key", "text"|"hex"}]`), as claims carry headers.
    pub headers: Value,
    /// What changed, one line each, values masked.
    pub changes: Vec<String>,
}

/// Why an edit cannot be sent, in the operator's words.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn refused<T>(msg: impl Into<String>) -> Result<T, EditError> {
    Err(EditError::Refused(msg.into()))
}

/// The most bytes an edited payload may have.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// Works out the edited copy of dead letter `id` from the form (nothing is sent).
pub async fn prepare(
    pool: &PgPool,
    registry: Option<&Registry>,
    masker: &Masker,
    id: i64,
    form: &EditForm,
) -> Result<Edit, EditError> {
    let row: Option<(String, Option<Vec<u8>>, Value)> = sqlx::query_as(
        "SELECT original_topic, replay_value, headers FROM dead_letters WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some((original_topic, bytes, headers)) = row else {
        return refused("no such dead letter");
    };
    let rules = masker.for_topic(&original_topic);
    let topic = target_topic(&form.topic, &original_topic)?;
    if form.payload.len() > MAX_PAYLOAD {
        return refused(format!("the payload is over {MAX_PAYLOAD} bytes"));
    }
    let mut changes = Vec::new();
    if topic != original_topic {
        changes.push(format!("topic: {original_topic} → {topic}"));
    }
    let value = edited_value(
        bytes.as_deref(),
        registry,
        &rules,
        &form.payload,
        &mut changes,
    )
    .await?;
    let headers = edited_headers(headers, form, &rules, &mut changes)?;
    if changes.is_empty() {
        return refused("nothing was changed: use Replay to send it as it came");
    }
    Ok(Edit {
        topic,
        value,
        headers,
        changes,
    })
}

/// The topic the copy goes to: the original unless the form names another, which must be
/// a topic name and not a dead-letter topic.
fn target_topic(asked: &str, original: &str) -> Result<String, EditError> {
    let t = asked.trim();
    if t.is_empty() || t == original {
        return Ok(original.to_string());
    }
    let valid = t.len() <= 249
        && t != "."
        && t != ".."
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !valid {
        return refused(format!("{t:?} is not a Kafka topic name"));
    }
    if looks_like_dead_letter_topic(t) {
        return refused(format!(
            "{t} is a dead-letter topic: send the copy to a topic a service reads"
        ));
    }
    Ok(t.to_string())
}

/// The edited payload's bytes, written as the original was (JSON, framed with its schema,
/// or text), with what changed added to `changes`.
async fn edited_value(
    bytes: Option<&[u8]>,
    registry: Option<&Registry>,
    rules: &TopicRules,
    edited: &str,
    changes: &mut Vec<String>,
) -> Result<Option<Vec<u8>>, EditError> {
    let Some(bytes) = bytes else {
        if edited.trim().is_empty() {
            return Ok(None);
        }
        changes.push("payload: set (the dead letter had none)".into());
        return Ok(Some(edited.as_bytes().to_vec()));
    };
    let framed = framing::framed(bytes);
    let original: Option<Value> =
        match (framed, registry) {
            (Some(f), Some(r)) => match crate::payload::read_framed(r, f).await {
                Ok(read) => Some(read.json),
                Err(e) => return refused(format!("the payload cannot be decoded to edit it: {e}")),
            },
            (Some(_), None) => return refused(
                "the payload is in the Schema Registry's wire format and no registry is configured",
            ),
            (None, _) => serde_json::from_slice(bytes).ok(),
        };
    let Some(original) = original else {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return refused("a binary payload cannot be edited as text");
        };
        let shown = rules.text(text);
        if edited == shown {
            return Ok(Some(bytes.to_vec()));
        }
        if shown != text {
            return refused(
                "the payload holds masked values: an admin must reveal it before it is edited by hand",
            );
        }
        changes.push(format!(
            "payload (text): {} → {} characters",
            text.chars().count(),
            edited.chars().count()
        ));
        return Ok(Some(edited.as_bytes().to_vec()));
    };
    let mut new: Value = serde_json::from_str(edited).map_err(|e| {
        EditError::Refused(format!(
            "the payload is not JSON: line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let mut shown = original.clone();
    rules.value(&mut shown);
    keep_masked(&mut new, &shown, &original);
    let before = changes.len();
    diff(&original, &new, &mut String::new(), rules, changes);
    if changes.len() == before {
        return Ok(Some(bytes.to_vec()));
    }
    let written = match (framed, registry) {
        (Some(f), Some(r)) => write_framed(r, f, &new).await.map_err(EditError::Refused)?,
        _ => serde_json::to_vec(&new).map_err(|e| EditError::Refused(e.to_string()))?,
    };
    Ok(Some(written))
}

/// Where the edited document still shows a mask the original was shown with, the
/// original value comes back: the operator left that field alone.
fn keep_masked(new: &mut Value, shown: &Value, original: &Value) {
    match (new, shown, original) {
        (Value::Object(n), Value::Object(s), Value::Object(o)) => {
            for (k, v) in n.iter_mut() {
                if let (Some(s), Some(o)) = (s.get(k), o.get(k)) {
                    keep_masked(v, s, o);
                }
            }
        }
        (Value::Array(n), Value::Array(s), Value::Array(o)) => {
            for ((v, s), o) in n.iter_mut().zip(s).zip(o) {
                keep_masked(v, s, o);
            }
        }
        (n, s, o) => {
            if n == s && s != o {
                *n = o.clone();
            }
        }
    }
}

/// One line per changed leaf (`/path: old → new`, `+ /path: new`, `- /path`), values as
/// the topic's rules show them.
fn diff(a: &Value, b: &Value, path: &mut String, rules: &TopicRules, out: &mut Vec<String>) {
    let shown = |v: &Value, path: &str| masked_at(rules, path, v);
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let len = path.len();
                push_segment(path, k);
                match y.get(k) {
                    Some(vb) => diff(va, vb, path, rules, out),
                    None => out.push(format!("- {path}")),
                }
                path.truncate(len);
            }
            for (k, vb) in y.iter().filter(|(k, _)| !x.contains_key(*k)) {
                let len = path.len();
                push_segment(path, k);
                out.push(format!("+ {path}: {}", shown(vb, path)));
                path.truncate(len);
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let len = path.len();
                push_segment(path, &i.to_string());
                match (x.get(i), y.get(i)) {
                    (Some(va), Some(vb)) => diff(va, vb, path, rules, out),
                    (Some(_), None) => out.push(format!("- {path}")),
                    (None, Some(vb)) => out.push(format!("+ {path}: {}", shown(vb, path))),
                    (None, None) => {}
                }
                path.truncate(len);
            }
        }
        (x, y) if x != y => {
            let at = if path.is_empty() { "/" } else { path.as_str() };
            out.push(format!("{at}: {} → {}", shown(x, at), shown(y, at)));
        }
        _ => {}
    }
}

/// A JSON pointer segment (RFC 6901 escapes).
fn push_segment(path: &mut String, key: &str) {
    path.push('/');
    path.push_str(&key.replace('~', "~0").replace('/', "~1"));
}

/// `v` as the rules show it where it sits (`path`): rebuilt inside the objects its path
/// names, so rules by pointer and by field name apply as they would in the document.
fn masked_at(rules: &TopicRules, path: &str, v: &Value) -> String {
    let segments: Vec<String> = path
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let mut doc = v.clone();
    for s in segments.iter().rev() {
        let mut m = Map::new();
        m.insert(s.clone(), doc);
        doc = Value::Object(m);
    }
    rules.value(&mut doc);
    let mut leaf = &doc;
    for s in &segments {
        leaf = &leaf[s.as_str()];
    }
    let text = leaf.to_string();
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(120).collect::<String>())
    } else {
        text
    }
}

/// The stored headers with the form's removals and settings applied (names any case).
fn edited_headers(
    mut headers: Value,
    form: &EditForm,
    rules: &TopicRules,
    changes: &mut Vec<String>,
) -> Result<Value, EditError> {
    let list = match &mut headers {
        Value::Array(list) => list,
        other => {
            *other = Value::Array(Vec::new());
            other.as_array_mut().expect("just made an array")
        }
    };
    let name_of = |h: &Value| {
        h.get("key")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    for name in form
        .remove_headers
        .split([',', '\n'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        let before = list.len();
        list.retain(|h| !name_of(h).eq_ignore_ascii_case(name));
        if list.len() == before {
            return refused(format!("there is no header {name:?} to remove"));
        }
        changes.push(format!("header removed: {name}"));
    }
    for line in form
        .set_headers
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let Some((name, text)) = line.split_once(':') else {
            return refused(format!("header line {line:?} is not name: value"));
        };
        let (name, text) = (name.trim(), text.trim());
        if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            return refused(format!("{name:?} is not a header name"));
        }
        if name.to_ascii_lowercase().starts_with("x-replay-") {
            return refused(format!(
                "{name} is set by every replay; it cannot be edited"
            ));
        }
        list.retain(|h| !name_of(h).eq_ignore_ascii_case(name));
        list.push(serde_json::json!({"key": name, "text": text}));
        let shown = if rules.header_masked(name) {
            crate::masking::detect::MASK.to_string()
        } else {
            rules.text(text).into_owned()
        };
        changes.push(format!("header set: {name}: {shown}"));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> std::sync::Arc<TopicRules> {
        Masker::default().for_topic("payment.completed")
    }

    #[test]
    fn a_field_left_masked_keeps_its_original_value() {
        let original =
            json!({"email": "jane@example.com", "amount": 12, "items": [{"cvv": "123"}]});
        let mut shown = original.clone();
        rules().value(&mut shown);
        let mut edited = shown.clone();
        edited["amount"] = json!(15);
        keep_masked(&mut edited, &shown, &original);
        assert_eq!(
            edited,
            json!({"email": "jane@example.com", "amount": 15, "items": [{"cvv": "123"}]})
        );
    }

    #[test]
    fn changes_are_lines_by_pointer_with_masked_values() {
        let a = json!({"amount": 12, "customer": {"email": "a@b.io"}, "tags": ["x"], "gone": 1});
        let b = json!({"amount": 15, "customer": {"email": "c@d.io"}, "tags": ["x", "y"], "new/k": "card 4111 1111 1111 1111"});
        let mut out = Vec::new();
        diff(&a, &b, &mut String::new(), &rules(), &mut out);
        assert_eq!(
            out,
            [
                "/amount: 12 → 15",
                "/customer/email: \"****\" → \"****\"",
                "- /gone",
                "+ /tags/1: \"y\"",
                "+ /new~1k: \"card ****1111\"",
            ]
        );
    }

    #[test]
    fn a_target_must_be_a_topic_and_not_a_dead_letter_topic() {
        assert_eq!(target_topic(" ", "orders").unwrap(), "orders");
        assert_eq!(target_topic("orders.v2", "orders").unwrap(), "orders.v2");
        assert!(target_topic("orders v2", "orders").is_err());
        assert!(target_topic("orders.DLT", "orders").is_err());
    }

    #[test]
    fn headers_are_removed_and_set_by_name_any_case() {
        let stored = json!([{"key": "X-Tenant", "text": "a"}, {"key": "authorization", "text": "Bearer abcdefgh"}]);
        let form = EditForm {
            set_headers: "x-tenant: b\nAuthorization: Bearer zzzzzzzz".into(),
            remove_headers: "".into(),
            ..EditForm::default()
        };
        let mut changes = Vec::new();
        let h = edited_headers(stored.clone(), &form, &rules(), &mut changes).unwrap();
        assert_eq!(
            h,
            json!([{"key": "x-tenant", "text": "b"}, {"key": "Authorization", "text": "Bearer zzzzzzzz"}])
        );
        assert_eq!(
            changes,
            ["header set: x-tenant: b", "header set: Authorization: ****"]
        );
        let form = EditForm {
            remove_headers: "nope".into(),
            ..EditForm::default()
        };
        assert!(edited_headers(stored.clone(), &form, &rules(), &mut changes).is_err());
        let form = EditForm {
            set_headers: "x-replay-count: 0".into(),
            ..EditForm::default()
        };
        assert!(edited_headers(stored, &form, &rules(), &mut changes).is_err());
    }
}
