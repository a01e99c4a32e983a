// The security perimeter in a real browser: sign-in redirects, what a viewer sees and may
// not do (even by forging requests with their own valid token), the admin kill-switch, and
// markup in event data staying inert text (escaping + CSP).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ARTIFACTS, login, openBrowser, startSystem } from './harness.mjs';

let system;
let b;

before(async () => {
  system = await startSystem();
  b = await openBrowser();
});

after(async () => {
  await b?.browser.close();
  await system?.stop();
});

test('a stranger is sent to the login page, and back after signing in', async () => {
  const { page } = b;
  await page.goto(`${system.base}/orders`);
  assert.match(new URL(page.url()).pathname, /^\/login/);
  await page.screenshot({ path: `${ARTIFACTS}/login.png` });
  await page.fill('#name', 'vera');
  await page.fill('#password', 'wrong password!');
  await page.click('button[type=submit]');
  assert.match(await page.getByTestId('login-error').textContent(), /Invalid name or password/);
  await login(page, system.base, 'vera', '/orders');
  assert.equal(new URL(page.url()).pathname, '/orders');
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  assert.match(await page.getByTestId('user').textContent(), /vera · viewer/);
  assert.equal(await page.locator('a[href="/admin"]').count(), 0, 'viewers get no admin link');
});

test('a viewer cannot write, even by forging requests with a valid token', async () => {
  const { page } = b;
  await page.goto(`${system.base}/orders`);
  const statuses = await page.evaluate(async () => {
    const csrf = document.querySelector('input[name=csrf]').value;
    const post = (path, body) => fetch(path, { method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }).then((r) => r.status);
    return {
      replay: await post('/api/ops/dlq/replay', `csrf=${csrf}&id=1`),
      killSwitch: await post('/api/admin/settings/writes', `csrf=${csrf}&enabled=false`),
      unclassified: await post('/orders', `csrf=${csrf}`),
    };
  });
  assert.deepEqual(statuses, { replay: 403, killSwitch: 403, unclassified: 403 });
  await page.goto(`${system.base}/admin`);
  await page.waitForSelector('text=forbidden', { timeout: 10000 });
});

test('markup in event data is shown as text and never runs', async () => {
  const { page, errors } = b;
  const evil = `ORD-<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;
  system.produceOrder(evil);
  await page.goto(`${system.base}/orders`);
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  const row = page.locator('tr', { hasText: '<script>window.__pwned=2</script>' });
  await row.first().waitFor({ timeout: 20000 });
  await row.first().locator('a').click();
  await page.waitForSelector('text=<img src=x', { timeout: 20000 });
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await page.locator('img[src=x]').count(), 0);
  await page.screenshot({ path: `${ARTIFACTS}/xss-inert.png`, fullPage: true });
  assert.deepEqual(errors.filter((e) => /Content Security Policy/.test(e)), [], 'no CSP violations');
});

test('a viewer sees no replay controls, and a script in a dead letter stays text', async () => {
  const { page, errors } = b;
  system.produceRaw('order.completed.dlq',
    '{"order_id":"ORD-XSS-DLQ","note":"<script>window.__pwned=3</script><img src=x onerror=window.__pwned=4>"}');
  await page.goto(`${system.base}/dead-letters`);
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  const row = page.locator('[data-testid=dead-letters] tbody tr', { hasText: 'order.completed' });
  for (let i = 0; i < 100 && (await row.count()) === 0; i++) {
    await page.waitForTimeout(200);
    await page.reload();
  }
  await row.first().waitFor({ timeout: 20000 });
  assert.equal(await page.getByTestId('replay-selected').count(), 0, 'no bulk replay for viewers');
  assert.equal(await page.getByTestId('replay-filter').count(), 0);
  await row.first().locator('a').first().click();
  await page.getByTestId('payload').waitFor({ timeout: 20000 });
  assert.match(await page.getByTestId('payload').textContent(), /<script>window.__pwned=3<\/script>/);
  assert.equal(await page.getByTestId('replay-one').count(), 0, 'no replay button for viewers');
  assert.equal(await page.getByTestId('discard').count(), 0, 'no discard for viewers');
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await page.screenshot({ path: `${ARTIFACTS}/dead-letter-viewer.png`, fullPage: true });
  assert.deepEqual(errors.filter((e) => /Content Security Policy/.test(e)), [], 'no CSP violations');
});

test('an admin switches every write off and on again; signing out ends the session', async () => {
  const ctx = await b.browser.newPage();
  await login(ctx, system.base, 'ada', '/admin');
  await ctx.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  await ctx.getByTestId('kill-switch').click();
  await ctx.getByTestId('kill-switch-banner').waitFor({ timeout: 10000 });
  assert.match(await ctx.getByTestId('writes-state').textContent(), /OFF/);
  await ctx.screenshot({ path: `${ARTIFACTS}/admin-kill-switch.png`, fullPage: true });
  await ctx.getByTestId('kill-switch').click();
  await ctx.waitForFunction(() => !document.querySelector('[data-testid=kill-switch-banner]'), null, { timeout: 10000 });
  // The audit log on the same page lists both switches.
  await ctx.goto(`${system.base}/admin?action=kill_switch`);
  assert.equal(await ctx.locator('[data-testid=audit] tbody tr').count(), 2);
  await ctx.click('text=Sign out');
  await ctx.waitForURL((u) => u.pathname === '/login');
  await ctx.goto(`${system.base}/admin`);
  assert.match(new URL(ctx.url()).pathname, /^\/login/);
  await ctx.close();
});
