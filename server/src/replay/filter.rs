//! [`DeadLetterFilter`] as SQL: one `WHERE` clause builder shared by the list, the groups,
//! dry runs and job snapshots, so "what the page shows" and "what a job sends" cannot
//! drift apart. Every value is a bind parameter.

use sqlx::{Postgres, QueryBuilder};
use switchyard_app::dlq::ReplayScope;
use switchyard_app::ops::DeadLetterFilter;
use switchyard_app::states::DeadLetterStatus;

/// What a dead letter's error is grouped and shown by, on table alias `d`.
pub const ERROR_LABEL: &str =
    "COALESCE(d.exception_message, d.exception_type, '(no error recorded)')";

/// Trims and drops empty strings: an empty form field means "any".
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Refuses a filter the page could not have produced (unknown status).
pub fn validate(f: &DeadLetterFilter) -> Result<(), String> {
    match given(&f.status) {
        Some(s) if s.parse::<DeadLetterStatus>().is_err() => Err(format!(
            "unknown status {s:?} (expected one of {})",
            DeadLetterStatus::ALL
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => Ok(()),
    }
}

/// Refuses a filter that searches for a value viewers see masked ([`crate::masking`]):
/// what is stored for searching is masked, so such a search finds nothing, and whether
/// it did must not tell anyone the value is there.
pub fn searchable(f: &DeadLetterFilter, masker: &crate::masking::Masker) -> Result<(), String> {
    for (field, v) in [
        ("key", &f.key),
        ("error", &f.error),
        ("payload", &f.payload),
    ] {
        if let Some(v) = given(v) {
            if let std::borrow::Cow::Owned(_) = masker.text(v) {
                return Err(format!(
                    "the {field} searched for holds a value that is masked (a card number, an e-mail address, a phone number or a secret): masked values cannot be searched"
                ));
            }
        }
    }
    Ok(())
}

/// Appends ` AND …` for each narrowing field of `f`, on table alias `d`.
pub fn push_filter(q: &mut QueryBuilder<'_, Postgres>, f: &DeadLetterFilter) {
    if let Some(t) = given(&f.topic) {
        q.push(" AND d.original_topic = ").push_bind(t.to_string());
    }
    if let Some(e) = given(&f.error) {
        let pattern = format!("%{}%", crate::read_model::like_escape(e));
        q.push(" AND (d.exception_message ILIKE ")
            .push_bind(pattern.clone())
            .push(" OR d.exception_type ILIKE ")
            .push_bind(pattern)
            .push(")");
    }
    if let Some(s) = given(&f.status) {
        q.push(" AND d.status = ").push_bind(s.to_string());
    }
    if let Some(k) = given(&f.key) {
        q.push(" AND d.kafka_key = ")
            .push_bind(k.as_bytes().to_vec());
    }
    if let Some(t) = f.since {
        q.push(" AND d.failed_at >= ").push_bind(t);
    }
    if let Some(t) = f.until {
        q.push(" AND d.failed_at < ").push_bind(t);
    }
    if let Some(t) = given(&f.dlq_topic) {
        q.push(" AND d.topic = ").push_bind(t.to_string());
    }
    if let Some(p) = given(&f.payload) {
        let pattern = format!("%{}%", crate::read_model::like_escape(p));
        q.push(" AND d.readable ILIKE ").push_bind(pattern);
    }
}

/// Appends ` AND …` restricting `d` to a replay scope.
pub fn push_scope(q: &mut QueryBuilder<'_, Postgres>, scope: &ReplayScope) {
    match scope {
        ReplayScope::Ids { ids } => {
            q.push(" AND d.id = ANY(").push_bind(ids.clone()).push(")");
        }
        ReplayScope::Filter { filter } => push_filter(q, filter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_do_not_narrow_and_values_are_bound() {
        let f = DeadLetterFilter {
            topic: Some("  ".into()),
            error: Some("50%_off".into()),
            status: Some("pending".into()),
            dlq_topic: Some("orders.DLT".into()),
            ..Default::default()
        };
        let mut q = QueryBuilder::new("SELECT 1 FROM dead_letters d WHERE true");
        push_filter(&mut q, &f);
        assert_eq!(
            q.sql(),
            "SELECT 1 FROM dead_letters d WHERE true AND (d.exception_message ILIKE $1 OR d.exception_type ILIKE $2) AND d.status = $3 AND d.topic = $4"
        );
        assert!(validate(&f).is_ok());
        let bad = DeadLetterFilter {
            status: Some("'; drop".into()),
            ..Default::default()
        };
        assert!(validate(&bad).is_err());
    }
}
