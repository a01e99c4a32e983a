// Test harness for browser tests: starts the real system (a fresh PostgreSQL database,
// a Nisshi broker, the switchyard server) and a headless Chromium, and stops them after.
//
// Inputs (set by `make e2e`): DATABASE_URL (a server where we may create databases),
// SWITCHYARD_BIN (the console), SWITCHYARD_FLEET_BIN (the fleet: traffic), SWITCHYARD_TOOLS_BIN
// (the tools: seeding), SWITCHYARD_SITE_ROOT (the built site), NISSHI_BIN.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const ARTIFACTS = new URL('../artifacts/', import.meta.url).pathname;
mkdirSync(ARTIFACTS, { recursive: true });

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} must be set (run the browser tests through 'make e2e')`);
  return v;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitFor(what, fn, timeoutMs = 30000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try { if (await fn()) return; } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function withDatabase(url, db) {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** The users every system starts with, by name and role; all share PASSWORD. */
export const USERS = { ada: 'admin', otto: 'operator', vera: 'viewer' };
export const PASSWORD = 'e2e-password-not-secret';

/** Signs `page` in as `name` through the login form; lands on `next`. */
export async function login(page, base, name, next = '/orders') {
  await page.goto(`${base}/login?next=${encodeURIComponent(next)}`);
  await page.fill('#name', name);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button[type=submit]')]);
}

/**
 * The whole system on free ports. `stop()` tears it down. `fleet`: arguments for a
 * `switchyard-fleet run` process run beside the console (the order saga services), e.g.
 * `['--mode', 'choreographed', '--rate', '3']`.
 */
export async function startSystem({ fleet, oidc } = {}) {
  const adminUrl = need('DATABASE_URL');
  const db = `sy_e2e_${Date.now()}_${process.pid}`;
  execFileSync('psql', [adminUrl, '-qc', `CREATE DATABASE ${db}`]);
  const databaseUrl = withDatabase(adminUrl, db);

  const kafkaPort = await freePort();
  const listener = `tcp://127.0.0.1:${kafkaPort}`;
  const broker = spawn(need('NISSHI_BIN'), ['broker', '--listener-url', listener,
    '--advertised-listener-url', listener, '--storage-engine', 'memory://nisshi/',
    '--group-initial-rebalance-delay', '0s'], { stdio: 'ignore' });
  const brokers = `127.0.0.1:${kafkaPort}`;

  const httpPort = await freePort();
  const base = `http://127.0.0.1:${httpPort}`;
  const env = { ...process.env, DATABASE_URL: databaseUrl, KAFKA_BROKERS: brokers,
    SWITCHYARD_ADDR: `127.0.0.1:${httpPort}`, KAFKA_SESSION_TIMEOUT_MS: '6000',
    // The broker is the test's own, started empty: the console may create the contract's
    // topics (it never does on a cluster it was not told it may change).
    SWITCHYARD_CREATE_TOPICS: 'true' };
  // `oidc`: { users, env } — a real OpenID Connect provider for this console, and the
  // console's single-sign-on settings (plus `env`, e.g. the group → role mapping).
  let provider;
  if (oidc) {
    provider = await startOidcProvider(base, oidc.users);
    Object.assign(env, { SWITCHYARD_PUBLIC_URL: base, SWITCHYARD_OIDC_ISSUER: provider.issuer,
      SWITCHYARD_OIDC_CLIENT_ID: 'switchyard', SWITCHYARD_OIDC_CLIENT_SECRET: OIDC_SECRET,
      SWITCHYARD_OIDC_LABEL: 'the test provider' }, oidc.env ?? {});
  }
  await waitFor('broker port', () => new Promise((resolve) => {
    const sock = connect(kafkaPort, '127.0.0.1', () => { sock.end(); resolve(true); });
    sock.on('error', () => resolve(false));
  }));
  // One user per role, created through the real CLI (passwords from stdin).
  for (const [name, role] of Object.entries(USERS)) {
    execFileSync(need('SWITCHYARD_BIN'), ['user', 'add', name, '--role', role, '--password-stdin'],
      { env, input: `${PASSWORD}\n`, stdio: ['pipe', 'ignore', 'inherit'] });
  }
  const serve = () => spawn(need('SWITCHYARD_BIN'), ['serve'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  let server = serve();
  const ready = () => waitFor('server ready', async () => (await fetch(`${base}/readyz`)).ok, 60000);
  await ready();

  let fleetProcess;
  if (fleet) {
    fleetProcess = spawn(need('SWITCHYARD_FLEET_BIN'), ['run', ...fleet],
      { env: { ...env, RUST_LOG: 'warn' }, stdio: ['ignore', 'inherit', 'inherit'] });
  }

  const produceOrder = (orderId) =>
    execFileSync(need('SWITCHYARD_FLEET_BIN'), ['produce', '--order-id', orderId], { env }).toString();

  // Raw bytes to any topic (e.g. a bare dead letter on `<topic>.dlq`).
  const produceRaw = (topic, bytes) =>
    execFileSync(need('SWITCHYARD_FLEET_BIN'), ['produce', '--raw', bytes, '--topic', topic], { env }).toString();

  return {
    base,
    env,
    produceOrder,
    produceRaw,
    /** kill -9 of the console, then the same console again on the same address. */
    async crashServer(downMs = 1000) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGKILL');
      await exited;
      await new Promise((r) => setTimeout(r, downMs));
      server = serve();
      await ready();
    },
    async stop() {
      fleetProcess?.kill('SIGKILL');
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      broker.kill('SIGKILL');
      provider?.child.kill('SIGTERM');
      try { execFileSync('psql', [adminUrl, '-qc', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]); } catch { /* kept for inspection */ }
    },
  };
}

const OIDC_SECRET = 'e2e-client-secret';

/**
 * The OIDC provider fixture (end2end/oidc-provider) for a console at `base`, with `users`
 * (name -> { password, email, groups }); resolves once it listens, with its issuer.
 */
function startOidcProvider(base, users) {
  const dir = new URL('../oidc-provider/', import.meta.url).pathname;
  const child = spawn('node', ['provider.mjs'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, OIDC_PORT: '0', OIDC_USERS: JSON.stringify(users),
      OIDC_CLIENTS: JSON.stringify([{ client_id: 'switchyard', client_secret: OIDC_SECRET,
        redirect_uris: [`${base}/auth/oidc/callback`] }]) },
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/OIDC provider ready: (\S+)/);
      if (m) resolve({ issuer: m[1], child });
    });
    child.once('exit', (code) => reject(new Error(`OIDC provider exited (${code}) before it was ready`)));
  });
}

/** Headless Chromium with the flags this machine needs, and a page that records errors. */
export async function openBrowser() {
  // A persistent context is how Playwright takes a fresh user-data-dir.
  const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'sy-chromium-')), {
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1366, height: 800 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = browser.pages()[0] ?? await browser.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  return { browser, page, errors };
}
