// The walking skeleton in a real browser: the page hydrates without errors, and an order
// produced through Kafka appears on the open page without a reload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ARTIFACTS, login, openBrowser, startSystem } from './harness.mjs';

let system;
let b;

before(async () => {
  system = await startSystem();
  b = await openBrowser();
  await login(b.page, system.base, 'vera');
});

after(async () => {
  await b?.browser.close();
  await system?.stop();
});

test('orders page hydrates and shows a pushed order without reload', async () => {
  const { page, errors } = b;
  await page.goto(`${system.base}/orders`);
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });

  // An interactive element works only once the wasm bundle has hydrated the page.
  const toggle = page.getByTestId('live-toggle');
  assert.equal((await toggle.textContent()).trim(), 'Pause live updates');
  await toggle.click();
  await page.waitForFunction(
    () => document.querySelector('[data-testid=live-toggle]').textContent.includes('Resume'));
  await toggle.click();
  await page.waitForFunction(
    () => document.querySelector('[data-testid=live-toggle]').textContent.includes('Pause'));

  await page.waitForFunction(
    () => document.querySelector('[data-testid=live-state]').textContent.trim() === 'live',
    null, { timeout: 20000 });

  // Mark this document: a reload would lose the mark.
  await page.evaluate(() => { window.__switchyardMark = 42; });
  const orderId = `ORD-E2E-${Date.now()}`;
  system.produceOrder(orderId);
  const row = page.locator(`tr[data-order-id="${orderId}"]`);
  await row.waitFor({ timeout: 20000 });
  assert.equal(await page.evaluate(() => window.__switchyardMark), 42, 'page was reloaded');
  assert.match(await row.textContent(), /created/);

  await page.screenshot({ path: `${ARTIFACTS}/orders-live.png`, fullPage: true });
  assert.deepEqual(errors, [], `console errors: ${errors.join('\n')}`);
});

test('an order link opens its detail page with the event history', async () => {
  const { page, errors } = b;
  const orderId = `ORD-E2E-DETAIL-${Date.now()}`;
  system.produceOrder(orderId);
  await page.goto(`${system.base}/orders`);
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  const link = page.locator(`tr[data-order-id="${orderId}"] a`);
  await link.waitFor({ timeout: 20000 });
  await link.click();
  await page.waitForURL(`**/orders/${orderId}`);
  await page.getByTestId('events').locator('tbody tr').first().waitFor({ timeout: 10000 });
  assert.match(await page.getByTestId('events').textContent(), /order\.created/);
  assert.equal((await page.getByTestId('order-status').textContent()).trim(), 'created');
  await page.screenshot({ path: `${ARTIFACTS}/order-detail.png`, fullPage: true });
  assert.deepEqual(errors, [], `console errors: ${errors.join('\n')}`);
});
