//! The output codec of every server function that returns JSON: the same wire format as
//! server_fn's own `Json` (`application/json`, `serde_json::to_vec`), but decoded in the
//! browser with `serde_json::from_str`.
//!
//! Why: a resource's value is also read back from the server-rendered HTML with
//! `serde_json::from_str`, while server_fn's `Json` decodes with `from_slice`. The two read
//! differently typed input, so every response type's deserializer was compiled twice into
//! the wasm bundle. Decoding both through `from_str` compiles it once.

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::{de::DeserializeOwned, Serialize};

/// JSON in the response body; see the module docs.
pub struct JsonStrEncoding;

/// Use as `#[server(output = crate::codec::Json)]`.
pub type Json = Post<JsonStrEncoding>;

impl ContentType for JsonStrEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonStrEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonStrEncoding {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonStrEncoding {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde::de::Error::custom)?;
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_as_server_fn_json() {
        use leptos::server_fn::codec::JsonEncoding;
        let v = vec![Some("é\"x".to_string()), None];
        let ours = <JsonStrEncoding as Encodes<_>>::encode(&v).unwrap();
        let theirs = <JsonEncoding as Encodes<_>>::encode(&v).unwrap();
        assert_eq!(ours, theirs);
        let back: Vec<Option<String>> = <JsonStrEncoding as Decodes<_>>::decode(ours).unwrap();
        assert_eq!(back, v);
        assert!(
            <JsonStrEncoding as Decodes<Vec<String>>>::decode(Bytes::from_static(b"[\"\xff\"]"))
                .is_err()
        );
    }
}
