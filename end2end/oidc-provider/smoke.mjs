// Smoke check of provider.mjs, and a worked example of what a relying party does with it:
// starts fresh providers on free ports and walks discovery, JWKS and the authorization code +
// PKCE flow with a scripted client (fetch, no redirect following, a small cookie jar), then
// checks the two knobs: OIDC_ID_TOKEN_TTL=-60 (expired) and OIDC_WRONG_AUDIENCE=1.
// Run: `npm run smoke` (exit 0 = all good).
import { spawn } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import assert from 'node:assert/strict';

const HERE = new URL('.', import.meta.url).pathname;
const REDIRECT = 'http://127.0.0.1:9/callback'; // never fetched: the code is read off Location
const CLIENTS = [
  { client_id: 'switchyard', client_secret: 'basic-secret', redirect_uris: [REDIRECT] },
  { client_id: 'switchyard-post', client_secret: 'post-secret', redirect_uris: [REDIRECT],
    token_endpoint_auth_method: 'client_secret_post' },
  // RFC 8252 loopback redirect: registered without a port, any port is accepted.
  { client_id: 'switchyard-anyport', client_secret: 'anyport-secret', redirect_uris: ['http://127.0.0.1/callback'],
    application_type: 'native' },
];
const USERS = {
  alice: { password: 'alice-pw', email: 'alice@example.test', groups: ['operators', 'admins'], name: 'Alice Ops' },
  bob: { password: 'bob-pw', email: 'bob@example.test', groups: ['viewers'] },
};

async function startProvider(extraEnv = {}) {
  const child = spawn(process.execPath, [`${HERE}provider.mjs`], {
    env: { ...process.env, OIDC_PORT: '0', OIDC_CLIENTS: JSON.stringify(CLIENTS), OIDC_USERS: JSON.stringify(USERS), ...extraEnv },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let timer;
  const issuer = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /^OIDC provider ready: (\S+)$/m.exec(buf);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`provider exited (${code}) before ready`)));
    timer = setTimeout(() => reject(new Error('provider not ready in 10 s')), 10000);
  }).finally(() => clearTimeout(timer));
  return { issuer, stop: () => child.kill('SIGTERM') };
}

class Jar {
  cookies = new Map();
  take(res) {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      this.cookies.set(pair.slice(0, i), pair.slice(i + 1));
    }
  }
  header() { return [...this.cookies].filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join('; '); }
}

async function go(jar, url, init = {}) {
  const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, cookie: jar.header() } });
  jar.take(res);
  return res;
}

const b64url = (buf) => buf.toString('base64url');
const decode = (jwt) => jwt.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url')));

// One full sign-in; returns {tokens, header, claims, signatureOk}.
// A jar passed in again (same "browser") still gets the login form: the fixture has no SSO.
async function signIn(issuer, { client = CLIENTS[0], user = 'alice', jar = new Jar() } = {}) {
  const disco = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const jwks = await (await fetch(disco.jwks_uri)).json();
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(12));
  const nonce = b64url(randomBytes(12));
  const auth = new URL(disco.authorization_endpoint);
  auth.search = new URLSearchParams({
    client_id: client.client_id, redirect_uri: REDIRECT, response_type: 'code',
    scope: 'openid profile email', state, nonce,
    code_challenge: b64url(createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256',
  });
  let res = await go(jar, auth);
  assert.equal(res.status, 303, 'authorization endpoint redirects to the login page');
  const loginUrl = new URL(res.headers.get('location'), issuer);
  res = await go(jar, loginUrl);
  const page = await res.text();
  assert.equal(res.status, 200);
  for (const field of ['name="login"', 'name="password"', 'data-testid="oidc-login"', 'data-testid="oidc-password"', 'data-testid="oidc-submit"']) {
    assert.ok(page.includes(field), `login page has ${field}`);
  }
  const action = new URL(/action="([^"]+)"/.exec(page)[1], issuer);
  const post = (password) => go(jar, action, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ login: user, password }),
  });
  res = await post('wrong');
  assert.equal(res.status, 401, 'wrong password: the page again');
  assert.ok((await res.text()).includes('data-testid="oidc-error"'));
  res = await post(USERS[user].password);
  // Follow the provider's own redirects until one leaves for the client.
  let hops = 0;
  while (res.status === 303 || res.status === 302) {
    const next = new URL(res.headers.get('location'), issuer);
    if (next.href.startsWith(REDIRECT)) break;
    assert.ok(++hops < 5, 'too many redirects');
    res = await go(jar, next);
  }
  if (!res.headers.get('location')) throw new Error(`no redirect to the client: ${res.status} ${await res.text()}`);
  const back = new URL(res.headers.get('location'));
  assert.equal(back.searchParams.get('state'), state);
  assert.equal(back.searchParams.get('iss'), issuer, 'RFC 9207 iss in the authorization response');
  const code = back.searchParams.get('code');
  assert.ok(code, `authorization response has a code: ${back}`);

  const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if ((client.token_endpoint_auth_method ?? 'client_secret_basic') === 'client_secret_basic') {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`;
  } else {
    body.set('client_id', client.client_id);
    body.set('client_secret', client.client_secret);
  }
  res = await fetch(disco.token_endpoint, { method: 'POST', headers, body });
  const tokens = await res.json();
  assert.equal(res.status, 200, `token response: ${JSON.stringify(tokens)}`);
  const [header, claims] = decode(tokens.id_token);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  const [h, p, s] = tokens.id_token.split('.');
  const signatureOk = !!jwk && verify('sha256', Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s, 'base64url'));
  assert.equal(claims.nonce, nonce);
  return { tokens, header, claims, signatureOk, disco, jwks, jar };
}

const now = () => Math.floor(Date.now() / 1000);
const show = (label, claims) => console.log(`${label}: ${JSON.stringify(claims)}`);

// 1. Normal provider: discovery, JWKS, basic and post clients, no single sign-on.
{
  const { issuer, stop } = await startProvider();
  try {
    const r = await signIn(issuer);
    const d = r.disco;
    assert.equal(d.issuer, issuer);
    assert.deepEqual(d.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(d.response_types_supported, ['code']);
    assert.deepEqual(d.id_token_signing_alg_values_supported, ['RS256']);
    assert.deepEqual(d.token_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post']);
    console.log(`discovery: issuer=${d.issuer} token_endpoint=${d.token_endpoint} jwks_uri=${d.jwks_uri} scopes=${d.scopes_supported}`);
    console.log(`jwks: ${r.jwks.keys.map((k) => `${k.kty}/${k.alg}/${k.use}/kid=${k.kid}/private=${'d' in k}`).join(', ')}`);
    assert.ok(r.jwks.keys.every((k) => !('d' in k)), 'JWKS has public keys only');
    assert.ok(r.signatureOk, 'id_token verifies against the JWKS');
    assert.equal(r.header.alg, 'RS256');
    assert.equal(r.claims.iss, issuer);
    assert.equal(r.claims.aud, 'switchyard');
    assert.equal(r.claims.sub, 'alice');
    assert.equal(r.claims.email, 'alice@example.test');
    assert.equal(r.claims.preferred_username, 'alice');
    assert.equal(r.claims.name, 'Alice Ops');
    assert.deepEqual(r.claims.groups, ['operators', 'admins']);
    assert.ok(r.claims.exp > now() + 3500 && r.claims.exp <= now() + 3600);
    assert.ok(r.claims.at_hash);
    console.log(`token response keys: ${Object.keys(r.tokens).join(',')} (token_type=${r.tokens.token_type})`);
    show('default id_token (basic)', r.claims);

    // Same cookie jar, other user and client: the login form again, and bob's token.
    const p = await signIn(issuer, { client: CLIENTS[1], user: 'bob', jar: r.jar });
    assert.ok(p.signatureOk);
    assert.equal(p.claims.aud, 'switchyard-post');
    assert.equal(p.claims.sub, 'bob');
    assert.deepEqual(p.claims.groups, ['viewers']);
    show('client_secret_post id_token', p.claims);

    // Without PKCE the request is refused (error redirect back to the client).
    const noPkce = new URL(d.authorization_endpoint);
    noPkce.search = new URLSearchParams({ client_id: 'switchyard', redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', state: 'x' });
    const res = await fetch(noPkce, { redirect: 'manual' });
    const err = new URL(res.headers.get('location'));
    assert.equal(err.searchParams.get('error'), 'invalid_request');
    console.log(`no PKCE: ${err.searchParams.get('error')}: ${err.searchParams.get('error_description')}`);

    // Redirect URIs: a web client's must match exactly (port included); a native client
    // registered with http://127.0.0.1/callback takes any port.
    const authStatus = async (client_id, redirect_uri) => {
      const u = new URL(d.authorization_endpoint);
      u.search = new URLSearchParams({ client_id, redirect_uri, response_type: 'code', scope: 'openid', state: 's', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
      const res = await fetch(u, { redirect: 'manual' });
      return `${res.status} ${res.headers.get('location')?.replace(/[^/]+$/, '…') ?? ''}`.trim();
    };
    const web = await authStatus('switchyard', 'http://127.0.0.1:10/callback');
    const native = await authStatus('switchyard-anyport', 'http://127.0.0.1:41234/callback');
    assert.equal(web, '400');
    assert.equal(native, '303 /interaction/…');
    console.log(`redirect_uri on another port: web client ${web}; native client ${native}`);

    // oidc-provider 8 takes client_secret_basic and client_secret_post alike, whichever the
    // client registered: a basic client posting its secret passes client auth (a bogus code
    // then fails as invalid_grant), a wrong secret is invalid_client.
    const tokenWith = async (secret) => {
      const res = await fetch(d.token_endpoint, { method: 'POST', body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x', client_id: 'switchyard', client_secret: secret, redirect_uri: REDIRECT, code_verifier: 'y'.repeat(43) }) });
      return `${res.status} ${(await res.json()).error}`;
    };
    const [right, wrong] = [await tokenWith('basic-secret'), await tokenWith('nope')];
    assert.equal(right, '400 invalid_grant');
    assert.equal(wrong, '401 invalid_client');
    console.log(`basic client posting its secret with a bogus code: ${right}; wrong secret: ${wrong}`);
  } finally { stop(); }
}

// 2. Expired: OIDC_ID_TOKEN_TTL=-60 -> exp a minute in the past, at issue.
{
  const { issuer, stop } = await startProvider({ OIDC_ID_TOKEN_TTL: '-60' });
  try {
    const r = await signIn(issuer);
    assert.ok(r.signatureOk);
    assert.ok(r.claims.exp < now() - 50, 'exp already in the past');
    console.log(`expired knob: exp - iat = ${r.claims.exp - r.claims.iat} s, exp - now = ${r.claims.exp - now()} s`);
  } finally { stop(); }
}

// 3. Wrong audience: aud replaced, signature still valid against the JWKS.
{
  const { issuer, stop } = await startProvider({ OIDC_WRONG_AUDIENCE: '1' });
  try {
    const r = await signIn(issuer);
    assert.ok(r.signatureOk, 'still signed by the provider key');
    assert.equal(r.claims.aud, 'wrong-audience');
    console.log(`wrong-audience knob: aud=${JSON.stringify(r.claims.aud)} signature valid=${r.signatureOk}`);
  } finally { stop(); }
}

console.log('smoke: ok (normal, expired, wrong audience)');
