// Saga actions in a real browser (issue 23), on the choreographed fleet. With the payment
// gateway down, orders wait on payment (their payment step dead-lettered). On one order's
// page the operator forces compensation: the command and the compensate steps appear on
// its timeline and the order fails. With the gateway back, on another order's page the
// operator retries the payment step once its breaker has closed: the order completes. A viewer sees what the saga
// waits on but no form.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { ARTIFACTS, login, openBrowser, startSystem } from './harness.mjs';

let system;
let fleet;
let b;

function fault(name, value) {
  execFileSync(process.env.SWITCHYARD_FLEET_BIN, ['fault', name, String(value)], { env: system.env });
}

function sql(query) {
  return execFileSync('psql', [system.env.DATABASE_URL, '-qtAc', query]).toString().trim();
}

before(async () => {
  system = await startSystem();
  // Faults first (this also creates the fleet's schema): no declined cards, no gateway.
  fault('payment_decline_rate', 0);
  fault('payment_outage', 1);
  fleet = spawn(process.env.SWITCHYARD_FLEET_BIN, ['run', '--mode', 'choreographed', '--rate', '2'],
    { env: { ...system.env, RUST_LOG: 'warn' }, stdio: ['ignore', 'inherit', 'inherit'] });
  b = await openBrowser();
});

after(async () => {
  fleet?.kill('SIGKILL');
  await b?.browser.close();
  await system?.stop();
});

// Orders the console shows waiting on payment, oldest first.
async function waitingOnPayment(n) {
  const end = Date.now() + 60000;
  for (;;) {
    const ids = sql(`SELECT order_id FROM orders WHERE current_step = 'payment:execute'
                       AND step_status = 'started' AND status = 'created'
                     ORDER BY created_at LIMIT ${n}`).split('\n').filter(Boolean);
    if (ids.length >= n) return ids;
    if (Date.now() > end) throw new Error(`only ${ids.length} orders wait on payment`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

// Reloads the order's page until `check` passes on it.
async function untilPage(page, url, what, check, timeoutMs = 45000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    await page.goto(url);
    if (await check()) return;
    if (Date.now() > end) {
      await page.screenshot({ path: `${ARTIFACTS}saga-actions-${what.replace(/\W+/g, '-')}.png`, fullPage: true });
      throw new Error(`${url}: never ${what}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function send(page, action, reason) {
  // The form is an island: without its script the browser posts it plainly (which works,
  // but shows no message), so wait until the page's islands are live.
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  await page.getByTestId('command-action').selectOption(action);
  await page.getByTestId('command-reason').fill(reason);
  await page.getByTestId('command-send').click();
  try {
    await page.getByTestId('command-result').waitFor({ timeout: 15000 });
  } catch (e) {
    await page.screenshot({ path: `${ARTIFACTS}saga-actions-send-${action}.png`, fullPage: true });
    throw new Error(`${action}: no result shown at ${page.url()}; browser errors: ${JSON.stringify(b.errors)}\n${e}`);
  }
}

test('force compensation: the command and the undo on the timeline; retry: the order completes', async () => {
  const [stuck, retried] = await waitingOnPayment(2);
  const page = b.page;
  await login(page, system.base, 'otto', `/orders/${stuck}`);

  // Force compensation on the first.
  const first = `${system.base}/orders/${stuck}`;
  await untilPage(page, first, 'waits on payment', async () =>
    (await page.getByTestId('waiting-on').count()) > 0
      && (await page.getByTestId('waiting-on').textContent()) === 'payment');
  await send(page, 'compensate', 'customer cancelled on the phone');
  assert.match(await page.getByTestId('command-result').textContent(), /Force compensation sent/);
  await untilPage(page, first, 'shows the undo', async () =>
    (await page.locator('li.tl-command.applied').count()) === 1
      && (await page.locator('li.tl-step.compensate.succeeded').count()) >= 1
      && (await page.getByTestId('order-status').textContent()) === 'failed');
  const command = await page.locator('li.tl-command').textContent();
  assert.match(command, /Force compensation by otto: customer cancelled on the phone/);
  assert.match(command, /undoing inventory/);
  // The command comes before the undo it caused.
  const lines = await page.locator('[data-testid=timeline] > li').evaluateAll((els) =>
    els.map((e) => e.className));
  const at = (cls) => lines.findIndex((c) => c.includes(cls));
  assert.ok(at('tl-command') < at('tl-step compensate'), lines.join(' | '));
  // An ended order offers nothing more.
  assert.equal(await page.getByTestId('command-form').count(), 0);

  // While the gateway's breaker is open, the page says a retry would fail fast.
  const second = `${system.base}/orders/${retried}`;
  if (sql(`SELECT state FROM breakers WHERE breaker = 'payment-gateway'`) === 'OPEN') {
    await page.goto(second);
    assert.match(await page.getByTestId('breaker-not-closed').textContent(), /payment-gateway OPEN since/);
  }

  // The gateway is back: once its breaker has closed again (it opened during the outage,
  // and a retry while it is open fails fast, rightly), retry the payment of the second.
  fault('payment_outage', 0);
  const end = Date.now() + 60000;
  while (sql(`SELECT state FROM breakers WHERE breaker = 'payment-gateway'`) !== 'CLOSED') {
    if (Date.now() > end) throw new Error('the payment gateway breaker never closed');
    await new Promise((r) => setTimeout(r, 500));
  }
  await page.goto(second);
  assert.equal(await page.getByTestId('breaker-not-closed').count(), 0);
  await send(page, 'retry_step', 'gateway is back');
  await untilPage(page, second, 'completes', async () =>
    (await page.getByTestId('order-status').textContent()) === 'completed'
      && (await page.locator('li.tl-command.applied').count()) === 1);
  assert.match(await page.locator('li.tl-command').textContent(), /Retry step \(payment\) by otto: gateway is back/);
  assert.equal(sql(`SELECT count(*) FROM fleet.payments WHERE order_id = '${retried}' AND status = 'charged'`), '1');
  await page.screenshot({ path: `${ARTIFACTS}saga-actions-retried.png`, fullPage: true });

  // A viewer sees what a saga waits on, and no form.
  const [other] = await waitingOnPayment(1);
  await login(page, system.base, 'vera', `/orders/${other}`);
  await untilPage(page, `${system.base}/orders/${other}`, 'shows the viewer what it waits on', async () =>
    (await page.getByTestId('saga-actions').count()) === 1);
  assert.equal(await page.getByTestId('command-form').count(), 0);
  assert.deepEqual(b.errors, []);
});
