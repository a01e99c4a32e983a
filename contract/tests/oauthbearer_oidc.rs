//! OAUTHBEARER with OpenID Connect client credentials (`sasl.oauthbearer.method=oidc`),
//! librdkafka's own token fetch — present only because rdkafka is built with `curl`. No
//! broker here speaks OAUTHBEARER, so the test checks the half Switchyard owns: a client
//! configured the way the README says asks the token endpoint (a loopback server speaking
//! the OAuth 2.0 token response, RFC 6749 §4.4) with the client's credentials.

use rdkafka::config::ClientConfig;
use rdkafka::producer::FutureProducer;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

/// base64url without padding (for the token's parts).
fn b64url(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | *b as u32) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn the_token_endpoint_is_asked_with_client_credentials() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let exp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 3600;
            let jwt = format!(
                "{}.{}.{}",
                b64url(br#"{"alg":"none","typ":"JWT"}"#),
                b64url(
                    format!(r#"{{"sub":"switchyard","exp":{exp},"iat":{}}}"#, exp - 3600)
                        .as_bytes()
                ),
                b64url(b"signature")
            );
            let reply =
                format!(r#"{{"access_token":"{jwt}","token_type":"bearer","expires_in":3600}}"#);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            );
            let _ = tx.send(format!("{head}\r\n{}", String::from_utf8_lossy(&body)));
        }
    });

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", "127.0.0.1:1")
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanisms", "OAUTHBEARER")
        .set("sasl.oauthbearer.method", "oidc")
        .set("sasl.oauthbearer.client.id", "switchyard")
        .set("sasl.oauthbearer.client.secret", "oidc-secret")
        .set("sasl.oauthbearer.scope", "kafka")
        .set(
            "sasl.oauthbearer.token.endpoint.url",
            format!("http://127.0.0.1:{port}/oauth2/token"),
        )
        .create()
        .expect("librdkafka takes OIDC settings (built with curl)");
    let request = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the token endpoint was asked");
    drop(producer);
    let lower = request.to_ascii_lowercase();
    assert!(lower.starts_with("post /oauth2/token"), "{request}");
    assert!(lower.contains("grant_type=client_credentials"), "{request}");
    assert!(lower.contains("scope=kafka"), "{request}");
    // HTTP Basic with client id and secret.
    let basic = format!("basic {}", {
        let mut s = b64url(b"switchyard:oidc-secret")
            .replace('-', "+")
            .replace('_', "/");
        while !s.len().is_multiple_of(4) {
            s.push('=');
        }
        s
    });
    assert!(lower.contains(&basic.to_ascii_lowercase()), "{request}");
}
