// The assistant sidebar in a real browser: a signed-in viewer asks about an order and gets a
// streamed, rule-based answer that links to it; a replay request comes back as a proposal
// card (dry run only), never as a replay.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
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

async function ask(page, question) {
  await page.fill('[data-testid=assistant-question]', question);
  await page.click('[data-testid=assistant-ask]');
  await page.waitForFunction(
    () => document.querySelector('[data-testid=assistant-ask]').textContent.trim() === 'Ask',
    null, { timeout: 20000 });
}

test('a question in the sidebar gets an answer that links to the order', async () => {
  const { page } = b;
  system.produceOrder('ORD-E2E-ASK');
  await login(page, system.base, 'vera', '/orders');
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  await page.waitForSelector('text=ORD-E2E-ASK', { timeout: 30000 });
  await page.click('[data-testid=assistant] summary');
  await ask(page, 'what is the status of ORD-E2E-ASK?');
  const link = page.locator('[data-testid=assistant-log] a[href="/orders/ORD-E2E-ASK"]').first();
  await link.waitFor({ timeout: 20000 });
  assert.equal(await page.getByTestId('rule-based').count() > 0, true, 'labelled rule-based');
  await page.screenshot({ path: `${ARTIFACTS}/assistant-answer.png` });
  await link.click();
  await page.waitForURL((u) => u.pathname === '/orders/ORD-E2E-ASK');
});

test('a replay request gives a proposal card and replays nothing', async () => {
  const { page } = b;
  const db = system.env.DATABASE_URL;
  const replays = () => execFileSync('psql', [db, '-tAc', 'SELECT count(*) FROM replays']).toString().trim();
  await login(page, system.base, 'otto', '/orders');
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  if (!(await page.locator('[data-testid=assistant][open]').count())) {
    await page.click('[data-testid=assistant] summary');
  }
  await ask(page, 'replay the order.completed dead letters from the last hour');
  const card = page.getByTestId('proposal-card').last();
  await card.waitFor({ timeout: 20000 });
  assert.match(await card.textContent(), /not run/);
  assert.equal(replays(), '0', 'asking replays nothing');
  await page.screenshot({ path: `${ARTIFACTS}/assistant-proposal.png` });
});
