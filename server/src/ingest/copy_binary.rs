//! PostgreSQL's binary `COPY` format, for the ingest's bulk inserts.
//!
//! Why it exists: `COPY` is the cheapest way for PostgreSQL to take rows (no executor work
//! per row, no arrays to decode as `INSERT … SELECT FROM UNNEST` has), and the binary form
//! spares both ends from printing and parsing numbers, timestamps and bytes as text. Only
//! the column types ingest writes are here; each writer names its columns in its `COPY`
//! statement and must append fields in that order.
//!
//! Format (PostgreSQL docs, "COPY — Binary Format"): a signature and two zero words, then
//! per row a 16-bit field count and per field a 32-bit length (-1 for NULL) and the bytes
//! of the type's binary send format, then a 16-bit -1.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 00:00 UTC).
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// The rows of one `COPY … FROM STDIN WITH (FORMAT binary)`, as bytes ready to send.
pub struct CopyRows {
    buf: Vec<u8>,
    fields: i16,
    rows: usize,
    in_row: i16,
}

impl CopyRows {
    /// An empty body for rows of `fields` columns; `bytes` is a capacity hint.
    pub fn new(fields: i16, bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes + 32);
        buf.extend_from_slice(SIGNATURE);
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        CopyRows {
            buf,
            fields,
            rows: 0,
            in_row: fields,
        }
    }

    /// Starts the next row; the previous one must have had all its fields.
    pub fn row(&mut self) -> &mut Self {
        debug_assert_eq!(self.in_row, self.fields, "row with missing fields");
        self.buf.extend_from_slice(&self.fields.to_be_bytes());
        self.rows += 1;
        self.in_row = 0;
        self
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.in_row += 1;
        self.buf
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
        self
    }

    pub fn null(&mut self) -> &mut Self {
        self.in_row += 1;
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    pub fn text(&mut self, v: &str) -> &mut Self {
        self.field(v.as_bytes())
    }

    pub fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    pub fn bytea(&mut self, v: Option<&[u8]>) -> &mut Self {
        match v {
            Some(b) => self.field(b),
            None => self.null(),
        }
    }

    pub fn int4(&mut self, v: i32) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    pub fn int8(&mut self, v: i64) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    pub fn opt_int8(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(n) => self.int8(n),
            None => self.null(),
        }
    }

    pub fn uuid(&mut self, v: Option<Uuid>) -> &mut Self {
        match v {
            Some(u) => self.field(u.as_bytes()),
            None => self.null(),
        }
    }

    pub fn timestamptz(&mut self, v: DateTime<Utc>) -> &mut Self {
        self.int8(v.timestamp_micros() - PG_EPOCH_OFFSET_US)
    }

    /// A `jsonb` field: version byte 1, then the JSON text, serialised straight into the
    /// buffer (no intermediate string).
    pub fn opt_timestamptz(&mut self, v: Option<DateTime<Utc>>) -> &mut Self {
        match v {
            Some(t) => self.timestamptz(t),
            None => self.null(),
        }
    }

    pub fn jsonb(&mut self, v: &Value) -> &mut Self {
        self.in_row += 1;
        let at = self.buf.len();
        self.buf.extend_from_slice(&0i32.to_be_bytes());
        self.buf.push(1);
        serde_json::to_writer(&mut self.buf, v).expect("a JSON value always serialises");
        let len = (self.buf.len() - at - 4) as i32;
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        self
    }

    /// A `jsonb` field from JSON text known to be valid.
    pub fn jsonb_text(&mut self, json: &str) -> &mut Self {
        self.in_row += 1;
        self.buf
            .extend_from_slice(&(json.len() as i32 + 1).to_be_bytes());
        self.buf.push(1);
        self.buf.extend_from_slice(json.as_bytes());
        self
    }

    /// The finished body, trailer included.
    pub fn finish(mut self) -> Vec<u8> {
        debug_assert_eq!(self.in_row, self.fields, "last row with missing fields");
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_row_as_postgres_reads_it() {
        let mut c = CopyRows::new(3, 0);
        c.row()
            .int4(7)
            .opt_text(None)
            .timestamptz(DateTime::<Utc>::from_timestamp(946_684_800, 0).unwrap());
        let bytes = c.finish();
        let mut want = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec();
        want.extend_from_slice(&[0, 3]);
        want.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 7]);
        want.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        want.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
        want.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(bytes, want);
    }

    #[test]
    fn jsonb_carries_its_version_and_length() {
        let mut c = CopyRows::new(1, 0);
        c.row().jsonb(&serde_json::json!({"a": 1}));
        let bytes = c.finish();
        let field = &bytes[19 + 2..];
        assert_eq!(&field[..4], &8i32.to_be_bytes());
        assert_eq!(&field[4..12], b"\x01{\"a\":1}");
        assert_eq!(&field[12..], &[0xff, 0xff], "only the trailer follows");
    }
}
