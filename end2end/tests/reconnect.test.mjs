// Issue 9's fault suite, the browser's part: the console is killed -9 under an open page
// and started again on the same address. The page notices (its live badge leaves "live"),
// reconnects by itself with the session it had (sessions live in PostgreSQL), and shows an
// order produced after the restart without a reload.
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

const isLive = () => document.querySelector('[data-testid=live-state]')?.textContent.trim() === 'live';

test('an open page reconnects after the console is killed and restarted', async () => {
  const { page } = b;
  await login(page, system.base, 'vera', '/orders');
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  await page.waitForFunction(isLive, null, { timeout: 20000 });
  // Mark this document (a reload would lose the mark) and record the badge's states.
  await page.evaluate(() => {
    window.__notReloaded = true;
    window.__states = [];
    const badge = document.querySelector('[data-testid=live-state]');
    new MutationObserver(() => window.__states.push(badge.textContent.trim()))
      .observe(badge, { childList: true, subtree: true, characterData: true });
  });

  await system.crashServer(1500);
  await page.waitForFunction(() => window.__states.some((s) => s !== 'live'), null, { timeout: 30000 });
  await page.waitForFunction(isLive, null, { timeout: 30000 });

  const orderId = `ORD-E2E-RECONNECT-${Date.now()}`;
  system.produceOrder(orderId);
  await page.locator(`tr[data-order-id="${orderId}"]`).waitFor({ timeout: 30000 });
  assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the page was not reloaded');
  assert.ok((await page.evaluate(() => window.__states)).includes('live'), 'back to live');
  await page.screenshot({ path: `${ARTIFACTS}/reconnected.png`, fullPage: true });
});
