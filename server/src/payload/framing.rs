//! The Confluent wire format: how a record value written by a Schema Registry serializer
//! says which schema wrote it. Byte 0 is the magic byte `0`, bytes 1–4 the schema id
//! (big-endian), then — for Protobuf only — the message indexes (which message of the
//! schema's file, as a path of indexes: a count and that many zig-zag varints, or the
//! single byte `0` for the file's first message), then the body.
//!
//! A value starting with byte 0 and at least five bytes long may be framed; whether it is
//! is decided by the registry knowing the id and the body decoding with its schema. JSON
//! text never starts with byte 0, so the contract's envelope is never mistaken for it.

/// A value in the Confluent wire format, split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framed<'a> {
    pub schema_id: u32,
    /// What follows the schema id: for Avro and JSON Schema the body; for Protobuf the
    /// message indexes and then the body ([`message_indexes`]).
    pub rest: &'a [u8],
}

/// The value's framing, when it starts like the Confluent wire format.
pub fn framed(value: &[u8]) -> Option<Framed<'_>> {
    match value {
        [0, a, b, c, d, rest @ ..] => Some(Framed {
            schema_id: u32::from_be_bytes([*a, *b, *c, *d]),
            rest,
        }),
        _ => None,
    }
}

/// The value framed for schema `schema_id` (what a serializer writes; tests and
/// re-encoding use it).
pub fn frame(schema_id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + body.len());
    out.push(0);
    out.extend_from_slice(&schema_id.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Protobuf's message indexes at the start of `rest`, and the body after them.
/// `[0]` (a single zero byte) means the file's first message.
pub fn message_indexes(rest: &[u8]) -> Result<(Vec<i64>, &[u8]), String> {
    let (count, mut at) = varint(rest, 0)?;
    let count = zigzag(count);
    if count == 0 {
        return Ok((vec![0], &rest[at..]));
    }
    if !(1..=100).contains(&count) {
        return Err(format!("implausible Protobuf message index count {count}"));
    }
    let mut indexes = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (v, next) = varint(rest, at)?;
        indexes.push(zigzag(v));
        at = next;
    }
    Ok((indexes, &rest[at..]))
}

/// Protobuf message indexes as a serializer writes them.
pub fn encode_message_indexes(indexes: &[i64]) -> Vec<u8> {
    if indexes == [0] {
        return vec![0];
    }
    let mut out = Vec::new();
    put_varint(&mut out, unzigzag(indexes.len() as i64));
    for i in indexes {
        put_varint(&mut out, unzigzag(*i));
    }
    out
}

fn varint(bytes: &[u8], mut at: usize) -> Result<(u64, usize), String> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(at).ok_or("Protobuf message indexes cut short")?;
        at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok((v, at));
        }
    }
    Err("Protobuf message index varint too long".into())
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn unzigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_framed_value_splits_into_id_and_rest() {
        let v = frame(0x0102_0304, b"body");
        assert_eq!(
            framed(&v),
            Some(Framed {
                schema_id: 0x0102_0304,
                rest: b"body"
            })
        );
        assert_eq!(framed(b"{\"id\":1}"), None, "JSON is never framed");
        assert_eq!(framed(&[0, 0, 0, 1]), None, "too short");
        assert_eq!(framed(&[0, 0, 0, 0, 7]).unwrap().rest, b"");
    }

    #[test]
    fn message_indexes_round_trip_and_the_first_message_is_one_zero_byte() {
        assert_eq!(
            message_indexes(&[0, 9, 9]).unwrap(),
            (vec![0], &[9u8, 9][..])
        );
        for path in [vec![1], vec![0, 2], vec![3, 0, 1], vec![70]] {
            let mut bytes = encode_message_indexes(&path);
            bytes.extend_from_slice(b"rest");
            let (got, rest) = message_indexes(&bytes).unwrap();
            assert_eq!((got, rest), (path.clone(), &b"rest"[..]), "{path:?}");
        }
        assert_eq!(encode_message_indexes(&[0]), vec![0]);
        // Confluent's own example: [1] is written as 02 02 (count 1, index 1, zig-zag).
        assert_eq!(encode_message_indexes(&[1]), vec![2, 2]);
        assert!(message_indexes(&[4]).unwrap_err().contains("cut short"));
        assert!(message_indexes(&[0xff; 12]).is_err());
    }
}
