//! What ingest stores, masked ([`crate::masking`]): an event's data and headers before
//! they are written or projected (so orders, saga steps, previews and search hold masked
//! values only), a dead letter's exception text, a quarantined record's reason. A dead
//! letter's and a quarantined record's bytes and headers stay as they came: replays send
//! them, and every view of them masks on the way out ([`crate::replay::view`]).
//!
//! An event's data is mostly kept as the text that arrived ([`EventRow::payload`]); it is
//! parsed here only when [`TopicRules::may_need`] flags the text, and printed again only
//! when masking changed it.

use super::dead_letter::DeadLetterRow;
use super::record::{EventRow, QuarantineRow};
use crate::masking::{Masker, TopicRules};
use serde_json::Value;
use std::borrow::Cow;

/// Masks an event's data (the stored text and the parsed value projections read) and
/// headers by its topic's rules.
pub fn event(e: &mut EventRow, rules: &TopicRules) {
    match &e.payload {
        Some(text) => {
            if rules.may_need(text.get().as_bytes()) {
                if let Ok(mut v) = serde_json::from_str::<Value>(text.get()) {
                    if rules.value(&mut v) {
                        if let Ok(raw) = serde_json::value::to_raw_value(&v) {
                            e.payload = Some(raw);
                        }
                        if !e.data.is_null() {
                            e.data = v;
                        }
                    }
                }
            }
        }
        None => {
            rules.value(&mut e.data);
        }
    }
    rules.headers(&mut e.headers);
}

/// Masks a dead letter's exception text by the rules of the topic it came from (its
/// bytes and headers are kept for replay). An order id told from a key that is itself a
/// masked value (an e-mail address) is not kept: it would show the value, or, masked,
/// file every such dead letter under one made-up order.
pub fn dead_letter(d: &mut DeadLetterRow, masker: &Masker) {
    let rules = masker.for_topic(&d.original_topic);
    if d.order_id
        .as_deref()
        .is_some_and(|o| matches!(rules.text(o), Cow::Owned(_)))
    {
        d.order_id = None;
    }
    for t in [&mut d.exception_message, &mut d.exception_type]
        .into_iter()
        .flatten()
    {
        rules.mask(t);
    }
}

/// Masks a quarantined record's reason (a reader may quote what it could not read).
pub fn quarantined(q: &mut QuarantineRow, masker: &Masker) {
    masker.mask(&mut q.reason);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::decode::{decode_on, Decoded, RawRecord};
    use crate::ingest::envelopes::Envelopes;

    fn record(value: &str) -> RawRecord {
        RawRecord {
            topic: "order.created".into(),
            partition: 0,
            offset: 7,
            key: Some(b"o-1".to_vec()),
            value: Some(value.as_bytes().to_vec()),
            headers: vec![
                ("authorization".into(), Some(b"Bearer abcdefgh".to_vec())),
                ("x-note".into(), Some(b"from jane@example.com".to_vec())),
            ],
            timestamp_ms: Some(1_733_370_000_000),
        }
    }

    fn event_of(value: &str) -> EventRow {
        match decode_on(&record(value), false, &Envelopes::default(), None) {
            Decoded::Event(e) => e,
            other => panic!("{other:?}"),
        }
    }

    const ENVELOPE: &str = r#"{"id":"6f1c1c2e-4b7a-4f0e-9a51-3d3f4c1e2a10","type":"order.created","aggregate_id":"o-1","occurred_at":"2026-12-05T10:00:00Z","source":"orders","correlation_id":"c-1","data":DATA}"#;

    #[test]
    fn an_events_text_and_parsed_data_and_headers_are_masked_alike() {
        let rules = Masker::default().for_topic("order.created");
        let mut e = event_of(&ENVELOPE.replace(
            "DATA",
            r#"{"order_id":"o-1","customer":{"email":"jane@example.com"},"note":"card 4111 1111 1111 1111"}"#,
        ));
        event(&mut e, &rules);
        let stored: Value = serde_json::from_str(e.payload.as_ref().unwrap().get()).unwrap();
        assert_eq!(
            stored,
            serde_json::json!({"order_id":"o-1","customer":{"email":"****"},"note":"card ****1111"})
        );
        assert!(e.data.is_null() || e.data == stored, "{:?}", e.data);
        let headers = e.headers.to_string();
        assert!(headers.contains(r#""text":"****""#), "{headers}");
        assert!(
            headers.contains("****@example.com") && !headers.contains("jane@"),
            "{headers}"
        );
    }

    #[test]
    fn an_event_with_nothing_to_mask_keeps_its_text_as_it_came() {
        let rules = Masker::default().for_topic("order.created");
        let data = r#"{ "order_id" : "o-1", "amount": 12.50 }"#;
        let mut e = event_of(&ENVELOPE.replace("DATA", data));
        event(&mut e, &rules);
        assert_eq!(e.payload.as_ref().unwrap().get(), data);
    }
}
