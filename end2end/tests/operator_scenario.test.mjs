// The operator's scenario (issue 9), in a real browser over the real system: the console,
// the fleet of order saga services (choreographed: a service that cannot reach its
// dependency dead-letters the message and the order waits), Nisshi and PostgreSQL.
// Sign in → the overview is live → inject a payment-gateway outage on the admin page →
// the payment breaker opens and dead letters accumulate → replay the dead letters matching
// a filter as a job, which waits on the payment gateway's breaker → end the outage → the
// breaker closes through half-open and the job completes by itself → the affected orders
// complete, each charged once → ask the assistant what happened to payments. A screenshot of
// each step lands in end2end/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ARTIFACTS, login, openBrowser, startSystem } from './harness.mjs';

let system;
let b;

before(async () => {
  system = await startSystem({ fleet: ['--mode', 'choreographed', '--rate', '3'] });
  b = await openBrowser();
});

after(async () => {
  await b?.browser.close();
  await system?.stop();
});

const sql = (q) => execFileSync('psql', [system.env.DATABASE_URL, '-tAc', q]).toString().trim();

async function until(what, check, timeout = 60000) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    assert.ok(Date.now() < end, `timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function shot(page, name) {
  await page.screenshot({ path: `${ARTIFACTS}/scenario-${name}.png`, fullPage: true });
}

// Sets a fleet fault through the admin page's form.
async function setFault(page, name, value) {
  await page.goto(`${system.base}/admin`);
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  const row = page.locator('[data-testid=fault-row]', { hasText: name });
  await row.locator('input[name=value]').fill(String(value));
  // The form shows the admin page again once the change is made (pages render on the
  // server); wait for that page before going elsewhere.
  await Promise.all([page.waitForEvent('load'), row.getByRole('button', { name: 'Set' }).click()]);
  await until(`${name} = ${value}`, () => Number(sql(`SELECT value FROM fleet.faults WHERE name = '${name}'`)) === value, 20000);
}

// The payment breaker's state as the breakers page shows it.
async function paymentBreaker(page) {
  await page.goto(`${system.base}/breakers`);
  const cell = page.locator('tr[data-breaker^="payment/"] .breaker-state').first();
  return (await cell.count()) ? (await cell.textContent()).trim() : '';
}

test('outage, breaker, dead letters, replay, recovery, and the assistant explains', async () => {
  const { page, errors } = b;
  await login(page, system.base, 'ada', '/');
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  await until('overview live', async () => (await page.getByTestId('live-state').textContent()).trim() === 'live', 20000);
  await until('orders flowing', async () => Number(sql("SELECT count(*) FROM orders WHERE status = 'completed'")) >= 3);
  await shot(page, '1-overview-live');
  // No declined cards in this story: every order the outage held up should complete.
  await setFault(page, 'payment_decline_rate', 0);

  await setFault(page, 'payment_outage', 1);
  await shot(page, '2-outage-injected');

  await until('payment breaker OPEN', async () => (await paymentBreaker(page)) === 'OPEN');
  await shot(page, '3-breaker-open');
  await until('dead letters accumulate', async () => {
    await page.goto(`${system.base}/dead-letters?topic=inventory.reserved`);
    return (await page.locator('tr[data-dead-letter-id]').count()) >= 3;
  });
  await shot(page, '4-dead-letters');
  // Replay everything pending from that topic as a job, during the outage: the job waits
  // for the payment gateway's breaker (the service map puts it behind inventory.reserved).
  await page.goto(`${system.base}/dead-letters?topic=inventory.reserved&status=pending`);
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  await page.getByTestId('replay-filter').click();
  await page.getByTestId('dry-run-summary').waitFor({ timeout: 20000 });
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  assert.match(await page.getByTestId('hold-on').inputValue(), /payment-gateway/);
  assert.match(await page.getByTestId('holding-now').textContent(), /payment-gateway (OPEN|HALF_OPEN)/);
  await page.getByTestId('confirm-replay').click();
  await page.waitForURL((u) => u.searchParams.has('job'), { timeout: 20000 });
  const jobId = new URL(page.url()).searchParams.get('job');
  await page.waitForFunction((id) => /waiting: payment-gateway/.test(
    document.querySelector(`li[data-job-id="${id}"] [data-testid=job-waiting]`)?.textContent ?? ''),
  jobId, { timeout: 30000 });
  assert.equal(sql(`SELECT sent FROM replay_jobs WHERE id = '${jobId}'`), '0', 'nothing sent into the outage');
  await shot(page, '5-job-waiting');
  const waiting = sql(`SELECT string_agg(DISTINCT d.order_id, ',') FROM replay_job_items i
    JOIN dead_letters d ON d.id = i.dead_letter_id WHERE i.job_id = '${jobId}'`).split(',');
  assert.ok(waiting.length >= 3, `orders waiting: ${waiting}`);

  // The outage ends; the breaker closes through half-open; the job goes on by itself.
  await setFault(page, 'payment_outage', 0);
  await until('payment breaker CLOSED again', async () => (await paymentBreaker(page)) === 'CLOSED', 90000);
  assert.ok(Number(sql(`SELECT count(*) FROM breaker_transitions WHERE service = 'payment'
    AND to_state = 'HALF_OPEN'`)) >= 1, 'closed through half-open');
  await page.goto(`${system.base}/dead-letters?job=${jobId}`);
  await page.waitForFunction((id) => document.querySelector(`li[data-job-id="${id}"]`)?.dataset.status === 'completed',
    jobId, { timeout: 60000 });
  await shot(page, '6-replayed');

  const list = waiting.map((o) => `'${o}'`).join(',');
  await until('the waiting orders complete', () => Number(sql(
    `SELECT count(*) FROM orders WHERE order_id IN (${list}) AND status = 'completed'`)) === waiting.length, 90000)
    .catch((e) => {
      throw new Error(`${e.message}: ${sql(`SELECT string_agg(order_id || '=' || status, ' ') FROM orders WHERE order_id IN (${list})`)}`);
    });
  assert.equal(Number(sql(`SELECT count(*) FROM fleet.payments WHERE order_id IN (${list})
    AND status = 'charged'`)), waiting.length, 'each waiting order charged once');
  await page.goto(`${system.base}/orders/${waiting[0]}`);
  assert.equal((await page.getByTestId('order-status').textContent()).trim(), 'completed');
  await shot(page, '7-order-completed');

  // The assistant, asked in the sidebar, answers from the records.
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  if (!(await page.locator('[data-testid=assistant][open]').count())) {
    await page.click('[data-testid=assistant] summary');
  }
  await page.fill('[data-testid=assistant-question]', 'what happened to payments in the last 10 minutes?');
  await page.click('[data-testid=assistant-ask]');
  await page.waitForFunction(
    () => document.querySelector('[data-testid=assistant-ask]').textContent.trim() === 'Ask',
    null, { timeout: 30000 });
  const answer = await page.getByTestId('assistant-log').textContent();
  // Grounded and short: the outages (from the breaker's transitions), the failed orders
  // and the dead letters waiting, numbers first; the details below, linked.
  assert.match(answer, /payment, [0-9:]+–[0-9:]+: \d+ outages? \(/, answer);
  assert.match(answer, /\d+ dead letters? waiting/, answer);
  assert.ok(await page.locator('[data-testid=assistant-log] a[href="/breakers"]').count() > 0, 'cites the breakers');
  await shot(page, '8-assistant');
  assert.deepEqual(errors, [], `console errors: ${errors.join('\n')}`);
});
