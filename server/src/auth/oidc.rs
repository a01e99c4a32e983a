//! Sign-in with the company's identity provider: OpenID Connect, authorization code flow
//! with PKCE, as a confidential client (`openidconnect`). Beside local passwords, or
//! instead of them (`SWITCHYARD_LOCAL_PASSWORDS=false`).
//!
//! - `GET /auth/oidc/start?next=…` makes a state, a nonce and a PKCE verifier, keeps them in
//!   a short-lived cookie of their own (`HttpOnly`, `SameSite=Lax` so it comes back on the
//!   provider's redirect; nothing is stored on the server for an anonymous client) and
//!   sends the browser to the provider.
//! - `GET /auth/oidc/callback?code&state` checks the state against the cookie, exchanges
//!   the code with the verifier, has the library verify the ID token (signature by the
//!   provider's keys, issuer, audience, expiry, nonce), maps the role claim to a role,
//!   creates the user on first sign-in (origin `oidc`; never takes over a local user of the
//!   same name), updates the role on later ones, and starts the session like a password
//!   sign-in does. Every failure is the login page with one line naming the cause.
//!
//! The provider's metadata is discovered on first use and kept; a provider that does not
//! answer is a 503 naming it, and the next sign-in tries again.

use super::guard::client_address;
use super::login::{render_login, safe_next};
use super::{users, Auth};
use crate::audit::{self, Actor};
use crate::config::OidcConfig;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use switchyard_app::auth::Role;
use tokio::sync::Mutex;
use tower_sessions::Session;

pub const START_PATH: &str = "/auth/oidc/start";
pub const CALLBACK_PATH: &str = "/auth/oidc/callback";
/// The cookie carrying one sign-in's state, nonce and PKCE verifier to the callback.
const PENDING_COOKIE: &str = "switchyard_oidc";
/// Seconds a user has at the provider before the pending sign-in is forgotten.
const PENDING_SECS: u32 = 600;

/// The identity provider as the console uses it.
#[derive(Clone)]
pub struct Oidc {
    config: OidcConfig,
    redirect: RedirectUrl,
    issuer: IssuerUrl,
    http: openidconnect::reqwest::Client,
    metadata: Arc<Mutex<Discovered>>,
}

/// The provider's metadata once found; or the last failure, reused for a few seconds so a
/// provider that is down is not asked once per visitor.
#[derive(Default)]
struct Discovered {
    metadata: Option<CoreProviderMetadata>,
    failed: Option<(std::time::Instant, String)>,
}

/// One sign-in between start and callback.
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
    next: String,
}

impl Oidc {
    /// `None` when no issuer is configured; an error names what is missing or malformed.
    pub fn from_config(
        config: &OidcConfig,
        public_url: Option<&str>,
    ) -> anyhow::Result<Option<Oidc>> {
        let Some(issuer) = config.oidc_issuer.as_deref().filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let issuer = IssuerUrl::new(issuer.to_string())
            .map_err(|e| anyhow::anyhow!("SWITCHYARD_OIDC_ISSUER {issuer:?}: {e}"))?;
        if config.oidc_client_id.as_deref().unwrap_or("").is_empty() {
            anyhow::bail!("SWITCHYARD_OIDC_ISSUER is set but SWITCHYARD_OIDC_CLIENT_ID is not");
        }
        let public = public_url.filter(|u| !u.is_empty()).ok_or_else(|| {
            anyhow::anyhow!(
                "SWITCHYARD_OIDC_ISSUER needs SWITCHYARD_PUBLIC_URL (the provider sends users back to <public url>{CALLBACK_PATH})"
            )
        })?;
        let redirect = RedirectUrl::new(format!("{}{CALLBACK_PATH}", public.trim_end_matches('/')))
            .map_err(|e| anyhow::anyhow!("SWITCHYARD_PUBLIC_URL {public:?}: {e}"))?;
        // Following redirects would let a provider's answer send the console elsewhere.
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        Ok(Some(Oidc {
            config: config.clone(),
            redirect,
            issuer,
            http,
            metadata: Arc::default(),
        }))
    }

    /// The label of the login page's button.
    pub fn label(&self) -> &str {
        &self.config.oidc_label
    }

    async fn client(
        &self,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        String,
    > {
        let mut cached = self.metadata.lock().await;
        if cached.metadata.is_none() {
            if let Some((at, why)) = &cached.failed {
                if at.elapsed() < std::time::Duration::from_secs(5) {
                    return Err(why.clone());
                }
            }
            match CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http).await {
                Ok(found) => cached.metadata = Some(found),
                Err(e) => {
                    let why = format!(
                        "the identity provider at {} does not answer: {}",
                        self.issuer.as_str(),
                        chain(&e)
                    );
                    cached.failed = Some((std::time::Instant::now(), why.clone()));
                    return Err(why);
                }
            }
        }
        let metadata = cached.metadata.clone().expect("just set");
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.oidc_client_id.clone().unwrap_or_default()),
            self.config
                .oidc_client_secret
                .clone()
                .map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect.clone()))
    }

    /// The role the claims map to: the highest whose groups the role claim names (`*`
    /// matches anyone the provider signed in).
    pub fn role_for(&self, claims: &Value) -> Option<Role> {
        let held: Vec<String> = match claims.get(&self.config.oidc_role_claim) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            Some(Value::String(s)) => s
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            _ => Vec::new(),
        };
        let matches = |groups: &[String]| {
            groups
                .iter()
                .any(|g| g == "*" || held.iter().any(|h| h == g))
        };
        [
            (Role::Admin, &self.config.oidc_admin_groups),
            (Role::Operator, &self.config.oidc_operator_groups),
            (Role::Viewer, &self.config.oidc_viewer_groups),
        ]
        .into_iter()
        .find(|(_, groups)| matches(groups))
        .map(|(role, _)| role)
    }

    /// The console user name the claims name: the first of the configured claims present.
    fn name_for(&self, claims: &Value) -> Option<String> {
        self.config
            .oidc_name_claims
            .iter()
            .find_map(|c| claims.get(c).and_then(|v| v.as_str()).map(str::to_string))
    }
}

#[derive(Deserialize, Default)]
pub struct StartQuery {
    next: Option<String>,
}

pub async fn start(State(auth): State<Auth>, Query(q): Query<StartQuery>) -> Response {
    let Some(oidc) = auth.oidc.clone() else {
        return (StatusCode::NOT_FOUND, "single sign-on is not configured").into_response();
    };
    let client = match oidc.client().await {
        Ok(c) => c,
        Err(why) => return failure(&auth, StatusCode::SERVICE_UNAVAILABLE, &why, None),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in &oidc.config.oidc_scopes {
        if scope != "openid" {
            request = request.add_scope(Scope::new(scope.clone()));
        }
    }
    let (url, state, nonce) = request.url();
    let pending = Pending {
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        next: safe_next(q.next.as_deref().unwrap_or("/")).to_string(),
    };
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&pending).expect("serialisable"));
    let mut resp = Redirect::to(url.as_str()).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        pending_cookie(&value, auth.config.secure(), PENDING_SECS),
    );
    resp
}

#[derive(Deserialize, Default)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn callback(
    State(auth): State<Auth>,
    session: Session,
    Query(q): Query<CallbackQuery>,
    req: Request<Body>,
) -> Response {
    let Some(oidc) = auth.oidc.clone() else {
        return (StatusCode::NOT_FOUND, "single sign-on is not configured").into_response();
    };
    let source = client_address(&req, &auth.config.trusted_proxies);
    let pending = pending_in(req.headers());
    let bad = |why: String| failure(&auth, StatusCode::UNAUTHORIZED, &why, Some(&source));
    if let Some(e) = q.error {
        let detail = q.error_description.unwrap_or_default();
        return bad(format!(
            "the identity provider refused the sign-in: {e} {detail}"
        ));
    }
    let Some(pending) = pending else {
        return bad("the sign-in expired or was started in another browser; start again".into());
    };
    let state_ok = q
        .state
        .as_deref()
        .is_some_and(|s| super::csrf::same(s, &pending.state));
    if !state_ok {
        return bad(
            "the sign-in's state does not match the one this browser started; start again".into(),
        );
    }
    let Some(code) = q.code else {
        return bad("the identity provider sent no authorization code".into());
    };
    let client = match oidc.client().await {
        Ok(c) => c,
        Err(why) => return failure(&auth, StatusCode::SERVICE_UNAVAILABLE, &why, Some(&source)),
    };
    let exchange = match client.exchange_code(AuthorizationCode::new(code)) {
        Ok(r) => r,
        Err(e) => return bad(format!("the identity provider has no token endpoint: {e}")),
    };
    let token = match exchange
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
        .request_async(&oidc.http)
        .await
    {
        Ok(t) => t,
        Err(e) => return bad(format!("the code could not be exchanged: {}", chain(&e))),
    };
    use openidconnect::TokenResponse;
    let Some(id_token) = token.id_token() else {
        return bad("the identity provider sent no ID token".into());
    };
    let verifier = client.id_token_verifier();
    if let Err(e) = id_token.claims(&verifier, &Nonce::new(pending.nonce.clone())) {
        return bad(format!("the ID token was refused: {}", chain(&e)));
    }
    // Verified above (signature, issuer, audience, expiry, nonce): its payload may be read
    // for the claims the library does not type (the role claim).
    let Some(claims) = payload(&id_token.to_string()) else {
        return bad("the ID token's claims could not be read".into());
    };
    let Some(name) = oidc
        .name_for(&claims)
        .filter(|n| users::validate_name(n).is_ok())
    else {
        return bad(format!(
            "the ID token names no usable user name (claims {:?}; 1 to 64 letters, digits or _ . @ -)",
            oidc.config.oidc_name_claims
        ));
    };
    let Some(role) = oidc.role_for(&claims) else {
        return bad(format!(
            "{name} has no {} mapped to a Switchyard role",
            oidc.config.oidc_role_claim
        ));
    };
    let actor = Actor::new(name.clone(), source.clone());
    let epoch = match users::upsert_external(&auth.pool, &actor, &name, role).await {
        Ok(users::External::Ready(epoch)) => epoch,
        Ok(users::External::LocalUser) => {
            return bad(format!(
                "{name} is a local user here; sign in with the password"
            ))
        }
        Ok(users::External::Disabled) => return bad(format!("{name} is disabled here")),
        Err(e) => {
            tracing::error!(error = %e, "OIDC user upsert failed");
            return super::unavailable("the user database is unavailable");
        }
    };
    if let Err(resp) = super::start_session(&session, &name, epoch).await {
        return resp;
    }
    let _ = audit::record(
        &auth.pool,
        &actor,
        "login",
        Some(&name),
        json!({ "role": role, "method": "oidc", "issuer": oidc.issuer.as_str() }),
    )
    .await;
    let mut resp = Redirect::to(safe_next(&pending.next)).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        pending_cookie("", auth.config.secure(), 0),
    );
    resp
}

/// The login page with `why`, audited (within the failed-sign-in budget) when a callback
/// failed.
fn failure(auth: &Auth, status: StatusCode, why: &str, source: Option<&str>) -> Response {
    tracing::warn!(%why, "single sign-on failed");
    if let Some(source) = source {
        if auth.limiter.may_audit() {
            let (pool, actor, why) = (
                auth.pool.clone(),
                Actor::new("(oidc)", source),
                why.chars().take(300).collect::<String>(),
            );
            tokio::spawn(async move {
                let _ = audit::record(
                    &pool,
                    &actor,
                    "login_failed",
                    None,
                    json!({ "why": why, "method": "oidc" }),
                )
                .await;
            });
        }
    }
    let mut resp = render_login(
        auth,
        status,
        None,
        Some(&format!("Single sign-on failed: {why}")),
    );
    resp.headers_mut().append(
        header::SET_COOKIE,
        pending_cookie("", auth.config.secure(), 0),
    );
    resp
}

fn pending_cookie(value: &str, secure: bool, max_age: u32) -> HeaderValue {
    super::cookies::set(PENDING_COOKIE, value, "/auth/oidc", "Lax", secure, max_age)
}

fn pending_in(headers: &HeaderMap) -> Option<Pending> {
    let value = super::cookies::get(headers, PENDING_COOKIE)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The JSON payload of a compact JWT (its signature checked elsewhere).
fn payload(jwt: &str) -> Option<Value> {
    let middle = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(middle.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// An error and its causes, in one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc(admin: &[&str], operator: &[&str], viewer: &[&str]) -> Oidc {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        let config = OidcConfig {
            oidc_issuer: Some("http://127.0.0.1:1".into()),
            oidc_client_id: Some("switchyard".into()),
            oidc_admin_groups: v(admin),
            oidc_operator_groups: v(operator),
            oidc_viewer_groups: v(viewer),
            oidc_role_claim: "groups".into(),
            ..OidcConfig::default()
        };
        Oidc::from_config(&config, Some("http://127.0.0.1:3000"))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn the_highest_mapped_role_wins() {
        let o = oidc(&["ops-admins"], &["ops"], &["*"]);
        let c = |g: Value| json!({ "groups": g });
        assert_eq!(
            o.role_for(&c(json!(["ops", "ops-admins"]))),
            Some(Role::Admin)
        );
        assert_eq!(o.role_for(&c(json!(["ops"]))), Some(Role::Operator));
        assert_eq!(o.role_for(&c(json!([]))), Some(Role::Viewer));
        assert_eq!(o.role_for(&c(json!("ops other"))), Some(Role::Operator));
        let strict = oidc(&["a"], &[], &[]);
        assert_eq!(strict.role_for(&c(json!(["b"]))), None, "unmapped: refused");
    }

    #[test]
    fn a_jwt_payload_is_read() {
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#);
        assert_eq!(payload(&format!("h.{body}.s")), Some(json!({"sub": "x"})));
        assert_eq!(payload("garbage"), None);
    }
}
