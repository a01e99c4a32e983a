//! Turning a stored dead letter into something an operator can read: the payload as
//! pretty JSON, text or a hex dump, and every header decoded according to the dialect
//! that wrote it (Spring Kafka's binary positions as numbers). Pure.

use super::headers::{carried, DEFAULT_STRIPPED};
use crate::ingest::dead_letter::{header_role, int_header};
use crate::ingest::record::unhex;
use serde_json::Value;
use std::fmt::Write as _;
use switchyard_app::dlq::{HeaderView, Payload};

/// Payloads longer than this are cut (the page says so).
pub const MAX_SHOWN: usize = 64 * 1024;

pub fn payload(bytes: Option<&[u8]>) -> Payload {
    let Some(b) = bytes else {
        return Payload::Empty;
    };
    let (shown, cut) = if b.len() > MAX_SHOWN {
        (&b[..MAX_SHOWN], true)
    } else {
        (b, false)
    };
    let tail = if cut {
        format!("\n… ({} more bytes not shown)", b.len() - MAX_SHOWN)
    } else {
        String::new()
    };
    if !cut {
        if let Ok(v) = serde_json::from_slice::<Value>(b) {
            if let Ok(pretty) = serde_json::to_string_pretty(&v) {
                return Payload::Json(pretty);
            }
        }
    }
    match std::str::from_utf8(shown) {
        Ok(s)
            if !s
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) =>
        {
            Payload::Text(format!("{s}{tail}"))
        }
        _ => Payload::Hex(format!("{}{tail}", hex_dump(shown))),
    }
}

/// `00000000  7b 22 61 …  |{"a…|`, 16 bytes a line.
pub fn hex_dump(b: &[u8]) -> String {
    let mut out = String::new();
    for (i, line) in b.chunks(16).enumerate() {
        let _ = write!(out, "{:08x} ", i * 16);
        for j in 0..16 {
            match line.get(j) {
                Some(x) => {
                    let _ = write!(out, " {x:02x}");
                }
                None => out.push_str("   "),
            }
        }
        out.push_str("  |");
        out.extend(line.iter().map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                c as char
            } else {
                '.'
            }
        }));
        out.push_str("|\n");
    }
    out
}

/// The stored headers (`[{key, text | hex}]`), decoded for display.
pub fn headers(stored: &Value) -> Vec<HeaderView> {
    let Some(list) = stored.as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|h| {
            let key = h.get("key")?.as_str()?.to_string();
            let text = h.get("text").and_then(Value::as_str);
            let bytes = match (text, h.get("hex").and_then(Value::as_str)) {
                (Some(t), _) => Some(t.as_bytes().to_vec()),
                (None, Some(x)) => Some(unhex(x)),
                _ => None,
            };
            let role = header_role(&key);
            let value = match (&bytes, role) {
                (None, _) => "(null)".to_string(),
                (Some(b), Some((_, _, true))) if int_header(b).is_some() => {
                    let n = int_header(b).unwrap_or_default();
                    if text.is_some() {
                        n.to_string()
                    } else {
                        format!("{n} (binary {})", hex_compact(b))
                    }
                }
                (Some(_), _) if text.is_some() => text.unwrap_or_default().to_string(),
                (Some(b), _) => format!("0x{}", hex_compact(b)),
            };
            Some(HeaderView {
                carried: carried(&key, DEFAULT_STRIPPED),
                meaning: role.map(|(dialect, what, _)| format!("{what} ({dialect})")),
                key,
                value,
            })
        })
        .collect()
}

fn hex_compact(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payloads_are_json_text_or_hex() {
        assert_eq!(
            payload(Some(br#"{"a":1}"#)),
            Payload::Json("{\n  \"a\": 1\n}".into())
        );
        let html = b"<script>alert(1)</script><b>hi</b>";
        assert_eq!(
            payload(Some(html)),
            Payload::Text(String::from_utf8_lossy(html).into_owned())
        );
        match payload(Some(b"\x00\x01AB")) {
            Payload::Hex(h) => assert!(h.starts_with("00000000  00 01 41 42"), "{h}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(payload(None), Payload::Empty);
        match payload(Some(&vec![b'a'; MAX_SHOWN + 5])) {
            Payload::Text(t) => assert!(t.ends_with("(5 more bytes not shown)")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn spring_binary_positions_are_numbers() {
        let stored = json!([
            {"key": "kafka_dlt-original-offset", "hex": "000000000000002a"},
            {"key": "kafka_dlt-original-topic", "text": "payments"},
            {"key": "x-original-partition", "text": "2"},
            {"key": "traceparent", "text": "00-x"},
            {"key": "blob", "hex": "00ff"},
            {"key": "none"}
        ]);
        let h = headers(&stored);
        assert_eq!(h[0].value, "42 (binary 000000000000002a)");
        assert_eq!(
            h[0].meaning.as_deref(),
            Some("original offset (spring-kafka)")
        );
        assert!(!h[0].carried);
        assert_eq!(
            h[2].meaning.as_deref(),
            Some("original partition (spring-cloud-stream)")
        );
        assert!(!h[3].carried, "trace context stripped by default");
        assert_eq!((h[4].value.as_str(), h[4].carried), ("0x00ff", true));
        assert_eq!(h[5].value, "(null)");
    }
}
