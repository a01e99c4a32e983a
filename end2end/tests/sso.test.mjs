// Single sign-on in a real browser: a stranger goes to the login page, follows "Sign in
// with …" to a real OpenID Connect provider, signs in there, and lands back on the page
// they asked for with the role their provider groups map to.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ARTIFACTS, openBrowser, startSystem } from './harness.mjs';

let system;
let b;

before(async () => {
  system = await startSystem({
    oidc: {
      users: { olga: { password: 'olga-at-the-idp', email: 'olga@example.com', groups: ['payments-oncall'] } },
      env: { SWITCHYARD_OIDC_OPERATOR_GROUPS: 'payments-oncall', SWITCHYARD_OIDC_VIEWER_GROUPS: '*' },
    },
  });
  b = await openBrowser();
});

after(async () => {
  await b?.browser.close();
  await system?.stop();
});

test('signing in through the identity provider lands with the mapped role', async () => {
  const { page } = b;
  await page.goto(`${system.base}/orders`);
  assert.match(new URL(page.url()).pathname, /^\/login/);
  await Promise.all([page.waitForURL((u) => !u.href.startsWith(system.base)), page.getByTestId('sso').click()]);
  await page.getByTestId('oidc-login').fill('olga');
  await page.getByTestId('oidc-password').fill('olga-at-the-idp');
  await page.screenshot({ path: `${ARTIFACTS}/sso-provider.png` });
  await Promise.all([
    page.waitForURL((u) => u.href.startsWith(`${system.base}/orders`)),
    page.getByTestId('oidc-submit').click(),
  ]);
  await page.waitForSelector('[data-hydrated="true"]', { timeout: 20000 });
  assert.match(await page.getByTestId('user').textContent(), /olga · operator/);
  await page.screenshot({ path: `${ARTIFACTS}/sso-landed.png` });
});
