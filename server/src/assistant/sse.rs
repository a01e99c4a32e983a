//! A small server-sent-events reader for the hosted models' streamed answers: bytes in
//! (split anywhere, even inside a UTF-8 character or a `\r\n`), whole events out.

/// One event: its `event:` name (empty when none was sent) and its joined `data:` lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

#[derive(Default)]
pub struct SseParser {
    buf: Vec<u8>,
    event: String,
    data: Vec<String>,
}

impl SseParser {
    /// Feeds bytes; returns the events they completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
            let mut line: Vec<u8> = self.buf.drain(..=i).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line);
            self.line(&line, &mut out);
        }
        out
    }

    /// Flushes an event not terminated by a blank line (a stream that just ended).
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            let line = String::from_utf8_lossy(&rest)
                .trim_end_matches('\r')
                .to_string();
            self.line(&line, &mut out);
        }
        self.line("", &mut out);
        out
    }

    fn line(&mut self, line: &str, out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if !self.data.is_empty() || !self.event.is_empty() {
                out.push(SseEvent {
                    event: std::mem::take(&mut self.event),
                    data: std::mem::take(&mut self.data).join("\n"),
                });
            }
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => self.data.push(value.to_string()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_are_reassembled() {
        let wire = "event: a\r\ndata: {\"t\":\"h\u{e9}\"}\r\n\r\n: ping\n\ndata: x\ndata: y\n\n";
        let bytes = wire.as_bytes();
        for cut in 0..bytes.len() {
            let mut p = SseParser::default();
            let mut evs = p.push(&bytes[..cut]);
            evs.extend(p.push(&bytes[cut..]));
            evs.extend(p.finish());
            assert_eq!(
                evs,
                vec![
                    SseEvent {
                        event: "a".into(),
                        data: "{\"t\":\"h\u{e9}\"}".into()
                    },
                    SseEvent {
                        event: "".into(),
                        data: "x\ny".into()
                    }
                ],
                "cut at {cut}"
            );
        }
    }
}
