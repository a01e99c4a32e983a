// A real OpenID Connect provider (panva's oidc-provider 8.8.1, the last line that supports
// Node 20) for the console's "Sign in with OIDC" tests: authorization code + PKCE (S256 only,
// always required), confidential clients (client_secret_basic or client_secret_post), RS256 ID
// tokens signed with a key made at start and published at the JWKS URI. Plain HTTP on
// 127.0.0.1; the issuer is exactly `http://127.0.0.1:<port>` (no trailing slash).
//
// Env (see README.md): OIDC_PORT (0 = any free port), OIDC_CLIENTS, OIDC_USERS,
// OIDC_ID_TOKEN_TTL, OIDC_WRONG_AUDIENCE. Prints `OIDC provider ready: <issuer>` on stdout
// once listening, and nothing else on stdout (the library's notices go to stderr).
import { generateKeyPairSync, randomBytes, sign as rsaSign } from 'node:crypto';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// oidc-provider prints its "you SHOULD change this default" notices with console.info, i.e. on
// stdout; keep stdout for the ready line alone.
console.info = (...args) => console.error(...args);

// oidc-provider comes from node_modules beside this file (scripts/setup.sh links it to the
// cache), else from $SY_OIDC_MODULES (scripts/env.sh): ESM ignores NODE_PATH.
async function loadOidcProvider() {
  try {
    return await import('oidc-provider');
  } catch (err) {
    const dir = process.env.SY_OIDC_MODULES;
    if (err.code !== 'ERR_MODULE_NOT_FOUND' || !dir) throw err;
    return import(pathToFileURL(join(dir, 'oidc-provider', 'lib', 'index.js')).href);
  }
}
const { default: Provider, interactionPolicy } = await loadOidcProvider();

function fail(msg) {
  console.error(`oidc fixture: ${msg}`);
  process.exit(2);
}

function jsonEnv(name) {
  const raw = process.env[name];
  if (!raw) fail(`${name} must be set (JSON, see README.md)`);
  try {
    return JSON.parse(raw);
  } catch (err) {
    return fail(`${name} is not valid JSON: ${err.message}`);
  }
}

const port = Number(process.env.OIDC_PORT ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail('OIDC_PORT must be a port number');

// Clients: {client_id, client_secret, redirect_uris} plus, passed through as client metadata,
// any other standard field, e.g. "token_endpoint_auth_method": "client_secret_post" (a client is
// held to the one method it is registered with; the default is client_secret_basic).
const clients = jsonEnv('OIDC_CLIENTS');
if (!Array.isArray(clients) || clients.length === 0) fail('OIDC_CLIENTS must be a non-empty array');
for (const c of clients) {
  if (!c.client_id || !c.client_secret || !Array.isArray(c.redirect_uris)) {
    fail('each OIDC_CLIENTS entry needs client_id, client_secret and redirect_uris');
  }
}

// Users: name -> {password, email, groups, name?}. The name is the subject (`sub`).
const users = jsonEnv('OIDC_USERS');
if (typeof users !== 'object' || users === null || Array.isArray(users)) fail('OIDC_USERS must be an object');

// ID token lifetime in seconds, 0 or negative allowed: exp = iat + TTL, so a TTL of -60 gives
// a token that expired a minute before it was issued (what the "expired" tests use; no wait).
// oidc-provider refuses a number <= 0 in `ttl.IdToken` at start, but takes a function's result
// as is, hence the function.
const idTokenTtl = Number(process.env.OIDC_ID_TOKEN_TTL ?? 3600);
if (!Number.isInteger(idTokenTtl)) fail('OIDC_ID_TOKEN_TTL must be an integer (seconds)');

// "1" -> aud "wrong-audience"; any other non-empty value except "0" -> that value as aud.
const wrongAudEnv = process.env.OIDC_WRONG_AUDIENCE ?? '';
const wrongAudience = wrongAudEnv === '' || wrongAudEnv === '0' ? null
  : wrongAudEnv === '1' ? 'wrong-audience' : wrongAudEnv;

// The signing key, in memory only.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const kid = randomBytes(8).toString('hex');
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (ch) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[ch]);
}

function loginPage(uid, clientId, { login = '', error = '' } = {}) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in - test OIDC provider</title></head>
<body>
  <h1>Sign in</h1>
  <p>to continue to <code>${escapeHtml(clientId)}</code></p>
  ${error ? `<p role="alert" data-testid="oidc-error" style="color:#b00">${escapeHtml(error)}</p>` : ''}
  <form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
    <label>User name <input type="text" name="login" data-testid="oidc-login" value="${escapeHtml(login)}" required autofocus></label><br>
    <label>Password <input type="password" name="password" data-testid="oidc-password" required></label><br>
    <button type="submit" data-testid="oidc-submit">Sign in</button>
  </form>
</body>
</html>`;
}

function send(res, status, contentType, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('form body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// Listen first: the issuer carries the port, which port 0 only reveals once bound.
let handler = (_req, res) => send(res, 503, 'text/plain', 'starting');
const server = createServer((req, res) => handler(req, res));
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const { Check, base: basePolicy } = interactionPolicy;
const policy = basePolicy();
// No single sign-on: every authorization request shows the login form, even in a browser that
// already signed in (the console signing out does not end the provider's session, and tests
// switch users). A login given in this very interaction satisfies it.
policy.get('login').checks.add(new Check('fixture_always_login', 'the test provider asks every time',
  'login_required', (ctx) => (ctx.oidc.result?.login ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT)));

const provider = new Provider(issuer, {
  clients: clients.map(({ client_id, client_secret, redirect_uris, ...rest }) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...rest,
    client_id,
    client_secret,
    redirect_uris, // http://127.0.0.1:... is accepted for web clients using the code flow.
  })),
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  jwks: { keys: [signingJwk] },
  enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
  responseTypes: ['code'],
  pkce: { methods: ['S256'], required: () => true },
  scopes: ['openid', 'profile', 'email', 'groups'],
  // `groups` sits under `openid` too, so it is in every ID token whether or not the client
  // asks for the `groups` scope; profile/email claims follow their scopes.
  claims: {
    openid: ['sub', 'groups'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  // Put the scopes' claims in the ID token itself, not only at the userinfo endpoint.
  conformIdTokenClaims: false,
  async findAccount(_ctx, sub) {
    const user = Object.hasOwn(users, sub) ? users[sub] : undefined;
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: user.email,
          email_verified: true,
          name: user.name ?? sub,
          preferred_username: sub,
          groups: user.groups ?? [],
        };
      },
    };
  },
  ttl: {
    IdToken: () => idTokenTtl,
    AccessToken: 3600,
    AuthorizationCode: 60,
    Interaction: 3600,
    Session: 3600,
    Grant: 3600,
  },
  interactions: { policy, url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    // Defaults that would only add endpoints a relying party may trip over.
    pushedAuthorizationRequests: { enabled: false },
    resourceIndicators: { enabled: false },
  },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><html><body><h1>OIDC error</h1><pre data-testid="oidc-provider-error">${
      escapeHtml(JSON.stringify(out, null, 2))}</pre></body></html>`;
  },
});

for (const ev of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error', 'jwks.error', 'discovery.error']) {
  provider.on(ev, (ctx, err) => console.error(`oidc fixture: ${ev}: ${err?.message ?? ctx?.message}${
    err?.error_description ? ` (${err.error_description})` : ''}`));
}

// Wrong audience: oidc-provider always sets an ID token's aud to the requesting client and has
// no hook to change it, so a post-middleware on the token endpoint re-signs the issued ID token
// with the provider's own key (same kid, RS256) after replacing aud. The token still verifies
// against the published JWKS; only aud is wrong.
if (wrongAudience) {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'token' && ctx.status === 200 && ctx.body?.id_token) {
      const [h, p] = ctx.body.id_token.split('.');
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
      payload.aud = wrongAudience;
      const input = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
      const signature = rsaSign('sha256', Buffer.from(input), privateKey).toString('base64url');
      ctx.body = { ...ctx.body, id_token: `${input}.${signature}` };
    }
  });
}

// Consent is never shown: the grant covers whatever was asked for. At login a new grant is
// made (the session's old one may belong to the user signed in before).
async function grantFor(details, accountId, { reuse }) {
  const existing = reuse && details.grantId ? await provider.Grant.find(details.grantId) : undefined;
  const grant = existing ?? new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.prompt.details.missingOIDCScope?.join(' ') ?? String(details.params.scope ?? 'openid'));
  if (details.prompt.details.missingOIDCClaims) grant.addOIDCClaims(details.prompt.details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.prompt.details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

async function interactions(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, 'text/plain', 'interaction mismatch');
  const clientId = details.params.client_id;

  if (details.prompt.name === 'consent') {
    const grantId = await grantFor(details, details.session?.accountId, { reuse: true });
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  if (req.method === 'GET' && !action) {
    return send(res, 200, 'text/html; charset=utf-8', loginPage(uid, clientId));
  }
  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const login = form.get('login') ?? '';
    const user = Object.hasOwn(users, login) ? users[login] : undefined;
    if (!user || user.password !== (form.get('password') ?? '')) {
      return send(res, 401, 'text/html; charset=utf-8',
        loginPage(uid, clientId, { login, error: 'Wrong user name or password.' }));
    }
    // This browser signed in before: forget that login (the session keeps its id, the
    // interaction drops its link to the old account). Otherwise oidc-provider, seeing another
    // account, answers with a JavaScript auto-submitted logout form instead of redirecting.
    if (details.session?.cookie) {
      const session = await provider.Session.find(details.session.cookie);
      if (session) {
        for (const k of ['accountId', 'loginTs', 'amr', 'acr', 'authorizations', 'transient']) delete session[k];
        await session.persist();
      }
      delete details.session;
      await details.save(details.exp - Math.floor(Date.now() / 1000));
    }
    // Log in and consent in one result: straight back to the client, no second interaction.
    const grantId = await grantFor(details, login, { reuse: false });
    return provider.interactionFinished(req, res,
      { login: { accountId: login }, consent: { grantId } }, { mergeWithLastSubmission: false });
  }
  return send(res, 405, 'text/plain', 'method not allowed');
}

const callback = provider.callback();
handler = (req, res) => {
  const m = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login))?\/?$/.exec(new URL(req.url, issuer).pathname);
  if (!m) return callback(req, res);
  return interactions(req, res, m[1], m[2]).catch((err) => {
    console.error(`oidc fixture: interaction ${m[1]}: ${err.message}${err.error_description ? ` (${err.error_description})` : ""}`, process.env.OIDC_DEBUG ? err.stack : "");
    if (!res.headersSent) {
      send(res, 400, 'text/html; charset=utf-8',
        `<!DOCTYPE html><p data-testid="oidc-provider-error">${escapeHtml(err.message)}</p>`);
    }
  });
};

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    process.exit(0);
  });
}

process.stdout.write(`OIDC provider ready: ${issuer}\n`);
