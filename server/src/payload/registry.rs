//! A Confluent Schema Registry client: the schema that wrote a framed value, by its id
//! (`GET /schemas/ids/{id}`; its `references` through `GET /subjects/{s}/versions/{v}`),
//! parsed once and cached. The cache is bounded, and remembers a miss for a while — a
//! schema the registry does not know for a minute, a registry that did not answer for a
//! few seconds — so a registry that is down costs one short wait now and then, never a
//! stuck reader. A miss is a reason the caller shows beside the raw bytes.

use super::avro::AvroSchema;
use super::protobuf::ProtoSchema;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchyard_app::ops::percent_encode;

/// How the console signs in to the registry.
#[derive(Clone, Debug, Default)]
pub enum Auth {
    #[default]
    None,
    Basic {
        user: String,
        password: String,
    },
    Bearer(String),
}

/// A schema ready to decode with.
#[derive(Debug)]
pub enum Decoder {
    Avro(AvroSchema),
    /// JSON Schema: the body is JSON text; the schema is not needed to read it.
    Json,
    /// Protobuf: the compiled `.proto` with its imports.
    Protobuf(ProtoSchema),
}

/// Why no schema: said beside the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Miss {
    /// The registry answered that it has no schema of this id (error code 40403).
    NotFound(u32),
    /// The registry did not answer, or answered with an error.
    Unavailable(String),
    /// The schema is there but cannot be used.
    Unusable(String),
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Miss::NotFound(id) => write!(f, "schema {id} is not in the Schema Registry (40403)"),
            Miss::Unavailable(why) => write!(f, "{UNAVAILABLE}: {why}"),
            Miss::Unusable(why) => write!(f, "{why}"),
        }
    }
}

/// How a miss because the registry did not answer begins (readers retry those later).
pub const UNAVAILABLE: &str = "the Schema Registry is unavailable";

const CAPACITY: usize = 10_000;
const NOT_FOUND_FOR: Duration = Duration::from_secs(60);
const UNAVAILABLE_FOR: Duration = Duration::from_secs(5);
const REFERENCE_DEPTH: usize = 10;

pub struct Registry {
    base: String,
    auth: Auth,
    http: reqwest::Client,
    cache: Mutex<HashMap<u32, Cached>>,
}

/// What the registry said about an id, and when.
type Cached = (Result<Arc<Decoder>, Miss>, Instant);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaResponse {
    schema: String,
    #[serde(default)]
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<Reference>,
}

#[derive(Deserialize)]
struct Reference {
    /// The name the schema uses for it (a Protobuf import path, an Avro type name).
    #[serde(default)]
    name: String,
    subject: String,
    version: i64,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error_code: Option<i64>,
    message: Option<String>,
}

impl Registry {
    /// A client of the registry at `url` (`http(s)://host:port`, any path prefix kept).
    pub fn new(url: &str, auth: Auth, timeout: Duration) -> anyhow::Result<Registry> {
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            anyhow::bail!("the Schema Registry URL {base:?} is not an http(s) URL");
        }
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Registry {
            base,
            auth,
            http,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The decoder for schema `id`, from the cache or the registry.
    pub async fn decoder(&self, id: u32) -> Result<Arc<Decoder>, Miss> {
        if let Some(hit) = self.cached(id) {
            return hit;
        }
        let fetched = self.fetch(id).await;
        let mut cache = self.cache.lock().expect("schema cache");
        if cache.len() >= CAPACITY {
            let now = Instant::now();
            cache.retain(|_, (r, at)| r.is_ok() && now.duration_since(*at) < NOT_FOUND_FOR);
            if cache.len() >= CAPACITY {
                cache.clear();
            }
        }
        cache.insert(id, (fetched.clone(), Instant::now()));
        fetched
    }

    fn cached(&self, id: u32) -> Option<Result<Arc<Decoder>, Miss>> {
        let cache = self.cache.lock().expect("schema cache");
        let (result, at) = cache.get(&id)?;
        let fresh = match result {
            Ok(_) => true,
            Err(Miss::NotFound(_)) | Err(Miss::Unusable(_)) => at.elapsed() < NOT_FOUND_FOR,
            Err(Miss::Unavailable(_)) => at.elapsed() < UNAVAILABLE_FOR,
        };
        fresh.then(|| result.clone())
    }

    async fn fetch(&self, id: u32) -> Result<Arc<Decoder>, Miss> {
        let found = self.get(&format!("/schemas/ids/{id}")).await?;
        let Some(found) = found else {
            return Err(Miss::NotFound(id));
        };
        let kind = found
            .schema_type
            .as_deref()
            .unwrap_or("AVRO")
            .to_ascii_uppercase();
        match kind.as_str() {
            "AVRO" => {
                let mut refs = Vec::new();
                self.referenced(&found.references, &mut refs, 0).await?;
                let texts: Vec<String> = refs.into_iter().map(|(_, text)| text).collect();
                AvroSchema::parse(&found.schema, &texts)
                    .map(|s| Arc::new(Decoder::Avro(s)))
                    .map_err(|e| Miss::Unusable(format!("schema {id}: {e}")))
            }
            "JSON" => Ok(Arc::new(Decoder::Json)),
            "PROTOBUF" => {
                let mut refs = Vec::new();
                self.referenced(&found.references, &mut refs, 0).await?;
                ProtoSchema::parse(&found.schema, &refs)
                    .map(|s| Arc::new(Decoder::Protobuf(s)))
                    .map_err(|e| Miss::Unusable(format!("schema {id}: {e}")))
            }
            other => Err(Miss::Unusable(format!(
                "schema {id} is of type {other}, which the console does not read"
            ))),
        }
    }

    /// The schemas `refs` name, as (name, text), their own references first.
    async fn referenced(
        &self,
        refs: &[Reference],
        out: &mut Vec<(String, String)>,
        depth: usize,
    ) -> Result<(), Miss> {
        if refs.is_empty() {
            return Ok(());
        }
        if depth >= REFERENCE_DEPTH {
            return Err(Miss::Unusable("schema references nest too deep".into()));
        }
        for r in refs {
            let path = format!(
                "/subjects/{}/versions/{}",
                percent_encode(&r.subject),
                r.version
            );
            let found = self.get(&path).await?.ok_or_else(|| {
                Miss::Unusable(format!(
                    "referenced subject {} version {} is not in the registry",
                    r.subject, r.version
                ))
            })?;
            Box::pin(self.referenced(&found.references, out, depth + 1)).await?;
            if !out.iter().any(|(_, text)| *text == found.schema) {
                out.push((r.name.clone(), found.schema));
            }
        }
        Ok(())
    }

    /// One GET: the schema, `None` for the registry's 404, or why not.
    async fn get(&self, path: &str) -> Result<Option<SchemaResponse>, Miss> {
        let mut req = self.http.get(format!("{}{path}", self.base)).header(
            "Accept",
            "application/vnd.schemaregistry.v1+json, application/json",
        );
        req = match &self.auth {
            Auth::None => req,
            Auth::Basic { user, password } => req.basic_auth(user, Some(password)),
            Auth::Bearer(token) => req.bearer_auth(token),
        };
        let resp = req
            .send()
            .await
            .map_err(|e| Miss::Unavailable(without_url(&e)))?;
        let status = resp.status();
        if status.is_success() {
            return resp
                .json::<SchemaResponse>()
                .await
                .map(Some)
                .map_err(|e| Miss::Unavailable(format!("unreadable answer: {}", without_url(&e))));
        }
        let body: Option<ErrorResponse> = resp.json().await.ok();
        let code = body.as_ref().and_then(|b| b.error_code);
        if status == reqwest::StatusCode::NOT_FOUND && matches!(code, Some(40401..=40403) | None) {
            return Ok(None);
        }
        let message = body.and_then(|b| b.message).unwrap_or_default();
        Err(Miss::Unavailable(match status.as_u16() {
            401 | 403 => format!("HTTP {status}: the registry refused the console's credentials"),
            _ => format!("HTTP {status} {message}").trim().to_string(),
        }))
    }
}

/// reqwest's error without the URL (it may hold credentials in user-info).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection refused or unreachable"
    } else if e.is_decode() {
        "not the Schema Registry's JSON"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut inner = String::new();
    while let Some(s) = source {
        inner = s.to_string();
        source = s.source();
    }
    if inner.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} ({inner})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::get;
    use axum::{Json, Router};
    use serde_json::{json, Value};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A registry on loopback speaking the Confluent REST API: schema 1 (Avro, referencing
    /// subject `address-value` version 1), schema 2 (JSON Schema), nothing else. Counts the
    /// requests, and refuses requests without the right basic credentials.
    async fn fake_registry() -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let address = r#"{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"city","type":"string"}]}"#;
        let customer = r#"{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"home","type":"com.acme.Address"}]}"#;
        fn authorised(h: &HeaderMap) -> bool {
            // "reader:s3cret"
            h.get("authorization").and_then(|v| v.to_str().ok())
                == Some("Basic cmVhZGVyOnMzY3JldA==")
        }
        let by_id = move |State(hits): State<Arc<AtomicUsize>>,
                          headers: HeaderMap,
                          Path(id): Path<u32>| async move {
            hits.fetch_add(1, Ordering::SeqCst);
            if !authorised(&headers) {
                return (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"error_code": 40101, "message": "Unauthorized"})),
                );
            }
            match id {
                1 => (
                    StatusCode::OK,
                    Json(json!({"schema": customer,
                    "references": [{"name": "com.acme.Address", "subject": "address-value", "version": 1}]})),
                ),
                2 => (
                    StatusCode::OK,
                    Json(json!({"schemaType": "JSON", "schema": "{\"type\":\"object\"}"})),
                ),
                _ => (
                    StatusCode::NOT_FOUND,
                    Json(json!({"error_code": 40403, "message": format!("Schema {id} not found")})),
                ),
            }
        };
        let by_subject =
            move |headers: HeaderMap, Path((subject, version)): Path<(String, i64)>| async move {
                if !authorised(&headers) {
                    return (StatusCode::UNAUTHORIZED, Json(Value::Null));
                }
                if subject == "address-value" && version == 1 {
                    (
                        StatusCode::OK,
                        Json(json!({"subject": subject, "version": 1, "id": 3, "schema": address})),
                    )
                } else {
                    (
                        StatusCode::NOT_FOUND,
                        Json(json!({"error_code": 40402, "message": "Version not found"})),
                    )
                }
            };
        let app = Router::new()
            .route("/schemas/ids/{id}", get(by_id))
            .route("/subjects/{subject}/versions/{version}", get(by_subject))
            .with_state(hits.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, hits)
    }

    fn basic() -> Auth {
        Auth::Basic {
            user: "reader".into(),
            password: "s3cret".into(),
        }
    }

    #[tokio::test]
    async fn schemas_are_fetched_with_references_once_and_misses_are_named() {
        let (url, hits) = fake_registry().await;
        let reg = Registry::new(&url, basic(), Duration::from_secs(2)).unwrap();
        let Decoder::Avro(schema) = &*reg.decoder(1).await.unwrap() else {
            panic!("schema 1 is Avro")
        };
        let body = [0x08, b'O', b's', b'l', b'o']; // "Oslo" as an Avro string
        assert_eq!(schema.decode(&body).unwrap()["home"]["city"], "Oslo");
        reg.decoder(1).await.unwrap();
        assert_eq!(
            hits.load(Ordering::SeqCst),
            1,
            "cached after the first fetch"
        );
        assert!(matches!(&*reg.decoder(2).await.unwrap(), Decoder::Json));
        let miss = reg.decoder(42).await.unwrap_err();
        assert_eq!(miss, Miss::NotFound(42));
        assert!(miss.to_string().contains("40403"));
        reg.decoder(42).await.unwrap_err();
        assert_eq!(hits.load(Ordering::SeqCst), 3, "a miss is remembered too");
    }

    #[tokio::test]
    async fn wrong_credentials_and_a_registry_that_is_down_are_said() {
        let (url, _) = fake_registry().await;
        let reg = Registry::new(&url, Auth::Bearer("nope".into()), Duration::from_secs(2)).unwrap();
        let miss = reg.decoder(1).await.unwrap_err().to_string();
        assert!(
            miss.contains("401") && miss.contains("credentials"),
            "{miss}"
        );
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let down = Registry::new(
            &format!("http://user:pw@127.0.0.1:{port}"),
            Auth::None,
            Duration::from_secs(2),
        )
        .unwrap();
        let miss = down.decoder(1).await.unwrap_err();
        assert!(matches!(miss, Miss::Unavailable(_)), "{miss:?}");
        assert!(
            !miss.to_string().contains("pw"),
            "no credentials in the reason: {miss}"
        );
        assert!(Registry::new("registry:8081", Auth::None, Duration::from_secs(1)).is_err());
    }
}
