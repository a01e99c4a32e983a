// The console pages in a real browser: overview (KPIs, server-drawn charts, range links,
// a pushed order in the live ticker), breakers, orders filters and keyset pages, and an
// order's detail (compensation on the timeline, time travel to an earlier version).
// The read model is seeded with `switchyard-tools seed` (orders SEED-00000001…, every tenth
// from 7 failing at payment and compensated).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ARTIFACTS, login, openBrowser, startSystem } from './harness.mjs';

let system;
let b;

before(async () => {
  system = await startSystem();
  execFileSync(process.env.SWITCHYARD_TOOLS_BIN, ['seed', '--orders', '400', '--hours', '1'],
    { env: system.env, stdio: ['ignore', 'ignore', 'inherit'] });
  b = await openBrowser();
  await login(b.page, system.base, 'vera', '/');
});

after(async () => {
  await b?.browser.close();
  await system?.stop();
});

async function hydrated(page) {
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
}

test('overview shows KPIs, charts and a pushed order in the ticker', async () => {
  const { page, errors } = b;
  await page.goto(`${system.base}/`);
  await hydrated(page);
  assert.match(await page.getByTestId('kpi-completion').textContent(), /%/);
  assert.match(await page.getByTestId('kpi-breakers').textContent(), /of 3/);
  assert.equal(await page.locator('figure[data-chart] svg').count(), 4);
  assert.match(await page.getByTestId('quarantined').getAttribute('href'), /\/quarantine/);

  await page.locator('a[data-range="24h"]').click();
  await page.waitForURL('**/?range=24h');
  await page.waitForSelector('a[data-range="24h"][aria-current="page"]');

  await page.waitForFunction(
    () => document.querySelector('[data-testid=live-state]').textContent.trim() === 'live',
    null, { timeout: 20000 });
  const orderId = `ORD-E2E-TICK-${Date.now()}`;
  system.produceOrder(orderId);
  await page.locator(`[data-testid=ticker] li[data-order-id="${orderId}"]`).waitFor({ timeout: 20000 });
  await page.screenshot({ path: `${ARTIFACTS}/overview.png`, fullPage: true });
  assert.deepEqual(errors, [], `console errors: ${errors.join('\n')}`);
});

test('breakers page lists every breaker and the history chart', async () => {
  const { page, errors } = b;
  await page.goto(`${system.base}/breakers`);
  await hydrated(page);
  for (const key of ['payment/gateway', 'inventory/warehouse', 'shipment/carrier']) {
    await page.locator(`tr[data-breaker="${key}"]`).waitFor();
  }
  assert.match(await page.locator('tr[data-breaker="payment/gateway"]').textContent(), /CLOSED/);
  await page.locator('figure[data-chart="breaker-history"] svg').waitFor();
  assert.ok(await page.getByTestId('transitions').locator('li').count() > 0);
  await page.screenshot({ path: `${ARTIFACTS}/breakers.png`, fullPage: true });
  assert.deepEqual(errors, [], `console errors: ${errors.join('\n')}`);
});

test('orders filters narrow the list, pages follow, and a pushed order appears', async () => {
  const { page, errors } = b;
  await page.goto(`${system.base}/orders`);
  await hydrated(page);
  const form = page.getByTestId('order-filters');
  await form.locator('select[name=status]').selectOption('failed');
  await form.locator('select[name=step]').selectOption('inventory:compensate');
  await Promise.all([page.waitForURL(/status=failed/), form.locator('button[type=submit]').click()]);
  const rows = page.locator('[data-testid=orders] tbody tr[data-order-id]');
  await rows.first().waitFor();
  const statuses = await rows.locator('.status').allTextContents();
  assert.equal(statuses.length, 40);
  assert.ok(statuses.every((s) => s.trim() === 'failed'), statuses.join(','));

  await form.locator('input[name=q]').fill('SEED-00000007');
  await Promise.all([page.waitForURL(/q=SEED-00000007/), form.locator('button[type=submit]').click()]);
  await page.waitForFunction(
    () => document.querySelectorAll('[data-testid=orders] tbody tr[data-order-id]').length === 1);

  // Keyset pages: 400 seeded orders, 50 a page.
  await page.goto(`${system.base}/orders`);
  await hydrated(page);
  const first = await rows.first().getAttribute('data-order-id');
  await Promise.all([page.waitForURL(/after_id=/), page.getByTestId('next-page').click()]);
  // Following the link loads the next page from the server (pages are server-rendered).
  await page.waitForFunction(
    (f) => document.querySelector('[data-testid=orders] tbody tr[data-order-id]')?.dataset.orderId !== f,
    first, { timeout: 20000 });
  assert.notEqual(await rows.first().getAttribute('data-order-id'), first);
  await page.screenshot({ path: `${ARTIFACTS}/orders-filtered.png`, fullPage: true });

  // A pushed order joins a first page it matches.
  await page.goto(`${system.base}/orders?status=created`);
  await hydrated(page);
  await page.waitForFunction(
    () => document.querySelector('[data-testid=live-state]').textContent.trim() === 'live',
    null, { timeout: 20000 });
  const orderId = `ORD-E2E-FILTER-${Date.now()}`;
  system.produceOrder(orderId);
  await page.locator(`tr[data-order-id="${orderId}"]`).waitFor({ timeout: 20000 });
  assert.deepEqual(errors, [], `console errors: ${errors.join('\n')}`);
});

test('a compensated order shows its compensation and its earlier state', async () => {
  const { page, errors } = b;
  await page.goto(`${system.base}/orders/SEED-00000007`);
  await hydrated(page);
  const timeline = page.getByTestId('timeline');
  assert.ok(await timeline.locator('li[data-action="compensate"]').count() >= 2);
  assert.match(await timeline.textContent(), /card declined/);
  assert.equal((await page.getByTestId('order-status').textContent()).trim(), 'failed');
  assert.match(await page.getByTestId('failure-breakers').textContent(), /payment/);
  await page.screenshot({ path: `${ARTIFACTS}/order-compensated.png`, fullPage: true });

  // Time travel: version 1 is the order as created.
  await Promise.all([page.waitForURL(/as_of=1/), page.getByTestId('as-of-link').first().click()]);
  await page.getByTestId('as-of').waitFor();
  await page.waitForFunction(
    () => document.querySelector('[data-testid=as-of-status]')?.textContent.trim() === 'created');
  assert.match(await page.getByTestId('as-of').textContent(), /As of version 1 of 10/);
  await page.screenshot({ path: `${ARTIFACTS}/order-time-travel.png`, fullPage: true });
  assert.deepEqual(errors, [], `console errors: ${errors.join('\n')}`);
});
