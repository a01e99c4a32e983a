// The assistant sidebar in a real browser: a signed-in viewer asks about an order and gets a
// streamed, rule-based answer that links to it; a replay request comes back as a proposal
// card (dry run only), never as a replay; an operator's click on the card's Confirm starts
// the replay job (the DLQ page's path and checks), whose progress shows on the dead-letter
// page, and the dead letter's order completes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
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

test('an operator confirms the proposal: the job runs and the order completes', async () => {
  const { page, errors } = b;
  const db = system.env.DATABASE_URL;
  const sql = (q) => execFileSync('psql', [db, '-tAc', q]).toString().trim();
  const orderId = `ORD-E2E-PROPOSE-${Date.now()}`;
  system.produceOrder(orderId);
  // The order's completion event failed and went to the dead-letter topic (bare dialect).
  system.produceRaw('order.completed.dlq', JSON.stringify({
    id: randomUUID(), type: 'order.completed', aggregate_id: orderId,
    occurred_at: new Date().toISOString(), source: 'e2e', correlation_id: orderId,
    data: { order_id: orderId },
  }));
  const end = Date.now() + 30000;
  while (sql(`SELECT count(*) FROM dead_letters WHERE order_id = '${orderId}'`) !== '1') {
    assert.ok(Date.now() < end, 'the dead letter was never ingested');
    await new Promise((r) => setTimeout(r, 300));
  }

  await login(page, system.base, 'otto', '/orders');
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  if (!(await page.locator('[data-testid=assistant][open]').count())) {
    await page.click('[data-testid=assistant] summary');
  }
  await ask(page, 'replay the order.completed dead letters from the last hour');
  const card = page.getByTestId('proposal-card').last();
  await card.waitFor({ timeout: 20000 });
  assert.match(await card.textContent(), /order\.completed/);
  assert.equal(sql(`SELECT count(*) FROM replays r JOIN dead_letters d ON d.id = r.dead_letter_id
    WHERE d.order_id = '${orderId}'`), '0', 'nothing replayed before the click');

  await card.getByTestId('proposal-confirm').click();
  // The server sends the browser to the dead-letter page with the new job highlighted.
  await page.waitForURL((u) => u.pathname === '/dead-letters' && u.searchParams.has('job'),
    { timeout: 20000 });
  const jobId = new URL(page.url()).searchParams.get('job');
  const dump = async () => `${page.url()} ${await page.getByTestId('jobs').innerHTML().catch((e) => String(e))}`;
  await page.waitForFunction((id) => {
    const j = document.querySelector(`li[data-job-id="${id}"]`);
    return j?.dataset.status === 'completed';
  }, jobId, { timeout: 30000 }).catch(async (e) => { throw new Error(`${e.message}; page: ${await dump()}`); });
  assert.equal(sql(`SELECT actor FROM audit_log WHERE action = 'replay_job_start'
    AND target = '${jobId}'`), 'otto', 'the job is audited as the operator');
  await page.screenshot({ path: `${ARTIFACTS}/assistant-confirmed.png`, fullPage: true });

  // Ingest reads the replayed completion back: the order completes.
  const done = Date.now() + 30000;
  while (sql(`SELECT status FROM orders WHERE order_id = '${orderId}'`) !== 'completed') {
    assert.ok(Date.now() < done, `${orderId} never completed`);
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.deepEqual(errors, [], `console errors: ${errors.join('\n')}`);
});

test('ten questions in a row: each answered, the question box in view after every answer', async () => {
  const { page, errors } = b;
  await page.setViewportSize({ width: 1440, height: 900 });
  system.produceOrder('ORD-E2E-TEN');
  // An operator of its own: the assistant allows each user 10 questions a minute.
  await login(page, system.base, 'ada', '/orders');
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  await page.waitForSelector('text=ORD-E2E-TEN', { timeout: 30000 });
  if (!(await page.locator('[data-testid=assistant][open]').count())) {
    await page.click('[data-testid=assistant] summary');
  }
  const questions = [
    'what is the status of ORD-E2E-TEN?',
    'which breakers are open right now?',
    "what's our order rate over the last 15 minutes?",
    'any dead letters parked in payment.completed.dlq?',
    'what happened to payments in the last 10 minutes?',
    'show failed orders from the last half hour',
    'is the warehouse breaker tripped?',
    'are orders completing normally today?',
    'what failed recently?',
    'and its saga timeline?',
  ];
  // In view and not covered: the element at the input's centre is the input itself.
  const reachable = () => page.evaluate(() => {
    const q = document.querySelector('[data-testid=assistant-question]');
    const r = q.getBoundingClientRect();
    const inside = r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth;
    return inside && document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === q;
  });
  const turns = page.locator('[data-testid=assistant-log] li.turn-assistant');
  for (const [i, question] of questions.entries()) {
    assert.ok(await reachable(), `the question box is reachable before question ${i + 1}`);
    const before = await turns.count();
    await ask(page, question);
    assert.equal(await turns.count(), before + 1, `question ${i + 1} (${question}) answered`);
    const answer = await turns.last().textContent();
    assert.doesNotMatch(answer, /too many|try again|error/i, `question ${i + 1} (${question}): ${answer}`);
    assert.ok(await reachable(), `the question box is reachable after answer ${i + 1}`);
    // The log follows: the newest answer's end is in view.
    assert.ok(await page.evaluate(() => {
      const log = document.querySelector('[data-testid=assistant-log]');
      const last = [...log.querySelectorAll('li.turn-assistant')].pop().getBoundingClientRect();
      const box = log.getBoundingClientRect();
      return last.bottom <= box.bottom + 1 && last.bottom > box.top;
    }), `answer ${i + 1} is in view`);
  }
  await page.screenshot({ path: `${ARTIFACTS}/assistant-ten.png` });

  // Closed, the sidebar's toggle covers no content: the page keeps room for it.
  await page.click('[data-testid=assistant] summary');
  const overlap = await page.evaluate(() => {
    const rail = document.querySelector('[data-testid=assistant]').getBoundingClientRect();
    const content = document.querySelector('.content').getBoundingClientRect();
    return content.right - rail.left;
  });
  assert.ok(overlap <= 0, `the closed sidebar overlaps the content by ${overlap}px`);
  await page.setViewportSize({ width: 1366, height: 800 });
  assert.deepEqual(errors, [], `console errors: ${errors.join('\n')}`);
});
