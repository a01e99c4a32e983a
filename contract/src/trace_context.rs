//! W3C Trace Context (`traceparent`) carried in Kafka headers, so one order's path can be
//! followed through every service's logs by its trace id.
//!
//! The fleet runs each message handler inside [`within`] the context its message carried
//! (or a new root when it carried none), logs inside a span holding the trace id, and
//! [`crate::publish::publish`] stamps what it publishes with a child of the current context.
//! Ingest logs each stored event with the trace id its headers carried. No OpenTelemetry
//! SDK: the header format is all that has to agree, and it is small.
//!
//! Format (version 00): `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, lowercase,
//! neither id all zeros. Anything else is ignored (a new trace starts), never an error.

use rand::RngCore;
use std::fmt;

pub const HEADER: &str = "traceparent";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    pub parent_id: [u8; 8],
    pub flags: u8,
}

fn hex_to<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N * 2
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TraceParent {
    /// Parses a `traceparent` value; `None` for anything malformed.
    pub fn parse(value: &str) -> Option<TraceParent> {
        let mut parts = value.trim().split('-');
        let (version, trace, parent, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        // Version 00 has exactly four fields; a later version may add more after them.
        let version = hex_to::<1>(version)?;
        if version[0] == 0xff || (version[0] == 0 && parts.next().is_some()) {
            return None;
        }
        let tp = TraceParent {
            trace_id: hex_to::<16>(trace)?,
            parent_id: hex_to::<8>(parent)?,
            flags: hex_to::<1>(flags)?[0],
        };
        (tp.trace_id != [0; 16] && tp.parent_id != [0; 8]).then_some(tp)
    }

    /// A new trace (sampled).
    pub fn root() -> TraceParent {
        let mut rng = rand::rng();
        let mut tp = TraceParent {
            trace_id: [0; 16],
            parent_id: [0; 8],
            flags: 1,
        };
        while tp.trace_id == [0; 16] {
            rng.fill_bytes(&mut tp.trace_id);
        }
        while tp.parent_id == [0; 8] {
            rng.fill_bytes(&mut tp.parent_id);
        }
        tp
    }

    /// The same trace, with a new span id: what a message this span sends carries.
    pub fn child(&self) -> TraceParent {
        let mut parent_id = [0u8; 8];
        while parent_id == [0; 8] {
            rand::rng().fill_bytes(&mut parent_id);
        }
        TraceParent { parent_id, ..*self }
    }

    pub fn trace_id(&self) -> String {
        hex(&self.trace_id)
    }

    pub fn span_id(&self) -> String {
        hex(&self.parent_id)
    }

    /// The `traceparent` found among Kafka headers, if any and well formed.
    pub fn from_headers<'a>(
        mut headers: impl Iterator<Item = (&'a str, Option<&'a [u8]>)>,
    ) -> Option<TraceParent> {
        headers
            .find(|(k, _)| k.eq_ignore_ascii_case(HEADER))
            .and_then(|(_, v)| std::str::from_utf8(v?).ok())
            .and_then(TraceParent::parse)
    }

    /// The `traceparent` among headers as the event store keeps them
    /// (`[{"key": …, "text": …}, …]`).
    pub fn from_stored_headers(headers: &serde_json::Value) -> Option<TraceParent> {
        headers
            .as_array()?
            .iter()
            .find(|h| {
                h["key"]
                    .as_str()
                    .is_some_and(|k| k.eq_ignore_ascii_case(HEADER))
            })
            .and_then(|h| h["text"].as_str())
            .and_then(TraceParent::parse)
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            hex(&self.trace_id),
            hex(&self.parent_id),
            self.flags
        )
    }
}

tokio::task_local! {
    static CURRENT: TraceParent;
}

/// Runs `fut` with `tp` as the current trace context (what [`current`] returns inside).
pub async fn within<F: std::future::Future>(tp: TraceParent, fut: F) -> F::Output {
    CURRENT.scope(tp, fut).await
}

/// The trace context of the message being handled, if any.
pub fn current() -> Option<TraceParent> {
    CURRENT.try_with(|tp| *tp).ok()
}

/// What an outgoing message carries: a child of the current context, or a new trace.
pub fn outgoing() -> TraceParent {
    current().map_or_else(TraceParent::root, |tp| tp.child())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_and_formats_the_w3c_example() {
        let tp = TraceParent::parse(SAMPLE).unwrap();
        assert_eq!(tp.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tp.span_id(), "00f067aa0ba902b7");
        assert_eq!(tp.flags, 1);
        assert_eq!(tp.to_string(), SAMPLE);
    }

    #[test]
    fn refuses_malformed_values() {
        for bad in [
            "",
            "00-abc-def-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
        // A later version may carry more fields; the first four still count.
        assert!(TraceParent::parse(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later"
        )
        .is_some());
    }

    #[test]
    fn children_keep_the_trace_and_change_the_span() {
        let root = TraceParent::root();
        let child = root.child();
        assert_eq!(child.trace_id, root.trace_id);
        assert_ne!(child.parent_id, root.parent_id);
        assert_eq!(TraceParent::parse(&child.to_string()), Some(child));
    }

    #[test]
    fn found_among_headers_case_insensitively() {
        let headers = [
            ("x-event-id", Some(&b"1"[..])),
            ("TraceParent", Some(SAMPLE.as_bytes())),
        ];
        let tp = TraceParent::from_headers(headers.iter().map(|(k, v)| (*k, *v))).unwrap();
        assert_eq!(tp.to_string(), SAMPLE);
        assert_eq!(TraceParent::from_headers(std::iter::empty()), None);
        let stored = serde_json::json!([{"key": "x-source", "text": "e2e"}, {"key": "traceparent", "text": SAMPLE}]);
        assert_eq!(
            TraceParent::from_stored_headers(&stored)
                .map(|t| t.to_string())
                .as_deref(),
            Some(SAMPLE)
        );
    }

    #[tokio::test]
    async fn outgoing_messages_continue_the_current_trace() {
        assert_eq!(current(), None);
        let tp = TraceParent::parse(SAMPLE).unwrap();
        let out = within(tp, async { outgoing() }).await;
        assert_eq!(out.trace_id, tp.trace_id);
        assert_ne!(out.parent_id, tp.parent_id);
        assert_ne!(outgoing().trace_id, tp.trace_id, "outside: a new trace");
    }
}
