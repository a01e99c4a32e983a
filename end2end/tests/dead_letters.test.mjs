// The dead-letter console in a real browser: three dead letters (order.completed events
// that failed) are selected, previewed, confirmed as a replay job; the progress bar fills,
// the job completes, and the orders they belong to are completed. Two selected rows are
// discarded with a reason. A payload holding <script> and HTML stays inert text on the
// detail page. A poison message is fixed in the edit form and resent: its order completes.
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

function produceRaw(topic, value) {
  execFileSync(process.env.SWITCHYARD_FLEET_BIN, ['produce', '--raw', value, '--topic', topic], { env: system.env });
}

function completedEvent(orderId, extra = {}) {
  return JSON.stringify({
    id: randomUUID(), type: 'order.completed', aggregate_id: orderId,
    occurred_at: new Date().toISOString(), source: 'e2e', correlation_id: orderId,
    data: { order_id: orderId, ...extra },
  });
}

let signedIn = false;

// The harness's operator, signed in through the login form (once per browser).
async function signIn(page) {
  if (signedIn) return;
  await login(page, system.base, 'otto', '/dead-letters');
  signedIn = true;
}

// Dead letters are not pushed to the list: reload until each text has its row.
async function untilRows(page, url, texts) {
  const end = Date.now() + 30000;
  for (;;) {
    await page.goto(url);
    let all = true;
    for (const t of texts) {
      if (await page.locator('tr[data-dead-letter-id]', { hasText: t }).count() === 0) all = false;
    }
    if (all) return;
    if (Date.now() > end) throw new Error(`rows for ${texts.join(', ')} never appeared`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test('select three dead letters, replay them, watch the job finish and the orders complete', async () => {
  const { page, errors } = b;
  const stamp = Date.now();
  const orders = [1, 2, 3].map((i) => `ORD-DLQ-${stamp}-${i}`);
  for (const o of orders) system.produceOrder(o);
  // Their completion failed and went to the dead-letter topic (bare dialect: the topic
  // name says where it came from).
  for (const o of orders) produceRaw('order.completed.dlq', completedEvent(o));

  await signIn(page);
  await untilRows(page, `${system.base}/dead-letters?topic=order.completed`, orders);
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  for (const o of orders) {
    await page.locator('tr[data-dead-letter-id]', { hasText: o }).locator('input[type=checkbox]').check();
  }
  await page.getByTestId('replay-selected').click();
  await page.getByTestId('dry-run-summary').waitFor({ timeout: 20000 });
  assert.match(await page.getByTestId('dry-run-summary').textContent(), /3 would be sent/);
  assert.match(await page.getByTestId('preview').textContent(), /order\.completed/);
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  await page.getByTestId('confirm-replay').click();

  const job = page.locator('li[data-job-id]').first();
  await job.waitFor({ timeout: 20000 });
  await page.waitForFunction(() => {
    const j = document.querySelector('li[data-job-id]');
    const p = j?.querySelector('progress');
    return j?.dataset.status === 'completed' && p && Number(p.value) === Number(p.max);
  }, null, { timeout: 30000 });
  assert.match(await job.textContent(), /3 sent/);
  await page.screenshot({ path: `${ARTIFACTS}/dead-letters-replayed.png`, fullPage: true });

  // The orders complete once ingest reads the replayed events back.
  for (const o of orders) {
    await page.goto(`${system.base}/orders/${o}`);
    const end = Date.now() + 30000;
    while ((await page.getByTestId('order-status').textContent()).trim() !== 'completed') {
      assert.ok(Date.now() < end, `${o} never completed`);
      await new Promise((r) => setTimeout(r, 500));
      await page.reload();
    }
  }
  assert.deepEqual(errors, [], `console errors: ${errors.join('\n')}`);
});

test('a payload holding <script> and HTML is shown as inert text', async () => {
  const { page, errors } = b;
  const orderId = `ORD-XSS-${Date.now()}`;
  produceRaw('payment.completed.dlq',
    completedEvent(orderId, { note: '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"><b>bold</b>' }));
  await signIn(page);
  await untilRows(page, `${system.base}/dead-letters?topic=payment.completed`, [orderId]);
  await page.locator('tr[data-dead-letter-id]', { hasText: orderId }).locator('a').first().click();
  await page.getByTestId('payload').waitFor({ timeout: 20000 });
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  const text = await page.getByTestId('payload').textContent();
  assert.match(text, /<script>window.__pwned = 1<\/script>/);
  assert.equal(await page.getByTestId('payload').locator('script, img, b').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await page.screenshot({ path: `${ARTIFACTS}/dead-letter-detail.png`, fullPage: true });
  assert.deepEqual(errors, [], `console errors: ${errors.join('\n')}`);
});

test('discard selected: a reason is asked for, the rows are discarded and audited', async () => {
  const { page, errors } = b;
  const stamp = Date.now();
  const orders = [1, 2].map((i) => `ORD-DISCARD-${stamp}-${i}`);
  for (const o of orders) produceRaw('shipment.created.dlq', completedEvent(o));
  await signIn(page);
  const url = `${system.base}/dead-letters?topic=shipment.created`;
  await untilRows(page, url, orders);
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  for (const o of orders) {
    await page.locator('tr[data-dead-letter-id]', { hasText: o }).locator('input[type=checkbox]').check();
  }
  await page.getByTestId('discard-selected').click();
  await page.getByTestId('discard-preview').waitFor({ timeout: 20000 });
  assert.match(await page.getByTestId('discard-preview').textContent(), /Discard 2 selected/);
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  await page.fill('[data-testid=discard-selected-form] input[name=reason]', 'test orders, never to be shipped');
  await page.getByTestId('confirm-discard').click();
  await page.getByTestId('discard-result').waitFor({ timeout: 20000 });
  assert.match(await page.getByTestId('discard-result').textContent(), /2 discarded/);
  // The list, reloaded by the action, shows them discarded.
  for (const o of orders) {
    const row = page.locator('tr[data-dead-letter-id]', { hasText: o });
    await row.locator('.dl-discarded').waitFor({ timeout: 20000 });
  }
  const audited = execFileSync('psql', [system.env.DATABASE_URL, '-tAc',
    "SELECT actor || ':' || (detail->>'reason') FROM audit_log WHERE action = 'discard' ORDER BY id DESC LIMIT 1"]).toString().trim();
  assert.equal(audited, 'otto:test orders, never to be shipped');
  await page.screenshot({ path: `${ARTIFACTS}/dead-letters-discarded.png`, fullPage: true });
  assert.deepEqual(errors, [], `console errors: ${errors.join('\n')}`);
});

test('edit and resend: a poison message fixed in the form is handled, and its change shown', async () => {
  const { page, errors } = b;
  const orderId = `ORD-DLQ-EDIT-${Date.now()}`;
  system.produceOrder(orderId);
  // The completion event that failed lacks its aggregate id: replayed as it came, ingest
  // could not file it under the order. The operator adds it in the edit form.
  const poison = JSON.parse(completedEvent(orderId));
  delete poison.aggregate_id;
  produceRaw('order.completed.dlq', JSON.stringify(poison));
  const sql = (q) => execFileSync('psql', [system.env.DATABASE_URL, '-tAc', q]).toString().trim();
  let id = '';
  const end = Date.now() + 30000;
  while (!(id = sql(`SELECT id FROM dead_letters WHERE convert_from(raw_value, 'UTF8') LIKE '%${orderId}%'`))) {
    assert.ok(Date.now() < end, 'the poison message was never ingested');
    await new Promise((r) => setTimeout(r, 300));
  }

  await signIn(page);
  await page.goto(`${system.base}/dead-letters/${id}`);
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  await page.locator('[data-testid=edit-resend] summary').click();
  const shown = JSON.parse(await page.getByTestId('edit-payload').inputValue());
  assert.equal(shown.aggregate_id, undefined);
  shown.aggregate_id = orderId;
  await page.getByTestId('edit-payload').fill(JSON.stringify(shown, null, 2));
  // Review first: the change, as a line by JSON pointer.
  await page.getByTestId('edit-submit').click();
  await page.getByTestId('edit-changes').waitFor({ timeout: 20000 });
  assert.match(await page.getByTestId('edit-changes').textContent(), new RegExp(`\\+ /aggregate_id: "${orderId}"`));
  assert.equal(sql(`SELECT count(*) FROM replays WHERE dead_letter_id = ${id}`), '0', 'a review sends nothing');
  // Then send.
  await page.getByTestId('edit-send').check();
  await page.getByTestId('edit-submit').click();
  await page.waitForFunction(() => /^sent to /.test(
    document.querySelector('[data-testid=edit-result] p')?.textContent ?? ''), null, { timeout: 20000 });
  await page.screenshot({ path: `${ARTIFACTS}/dead-letter-edited.png`, fullPage: true });

  // Ingest reads the fixed copy back: the order completes.
  const done = Date.now() + 30000;
  while (sql(`SELECT status FROM orders WHERE order_id = '${orderId}'`) !== 'completed') {
    assert.ok(Date.now() < done, `${orderId} never completed`);
    await new Promise((r) => setTimeout(r, 300));
  }
  await page.goto(`${system.base}/dead-letters/${id}`);
  assert.match(await page.getByTestId('replay-changes').textContent(), /edited copy: 1 change/);
  assert.equal(sql(`SELECT count(*) FROM audit_log WHERE action = 'replay_edited' AND actor = 'otto'`), '1');
  assert.deepEqual(errors, [], `console errors: ${errors.join('\n')}`);
});
