// The token is renewed through /api/auth/refresh before it expires. Tokens live 60 s here
// (jwt_expiry's minimum); the page's clock is fast-forwarded instead of waiting.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, launch, newPage, PASSWORD } from './harness.mjs';

const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test('the token is refreshed before it expires and the new one is kept', async () => {
  const stack = await startStack({ mode: 'multi', extra: ['jwt_expiry: 60'] });
  cleanups.push(() => stack.stop());
  const browser = await launch();
  cleanups.push(() => browser.close());
  const { page, problems } = await newPage(browser);
  await page.clock.install();
  await page.goto(stack.baseURL + '/');
  await page.getByRole('tab', { name: 'Create account' }).click();
  await page.getByLabel('Username').fill('dave');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('button', { name: '+ New chat' }).waitFor();
  const before = await page.evaluate(() => localStorage.getItem('nanoclaw_token'));
  const claims = JSON.parse(Buffer.from(before.split('.')[1], 'base64url').toString());
  assert.ok(claims.exp - claims.iat <= 60);

  // Nothing is refreshed early…
  let refreshed = 0;
  page.on('request', (r) => r.url().endsWith('/api/auth/refresh') && refreshed++);
  await page.clock.runFor(20_000);
  assert.equal(refreshed, 0);
  // …but within the last quarter of its life the page renews it.
  const request = page.waitForRequest((r) => r.url().endsWith('/api/auth/refresh'));
  const response = page.waitForResponse((r) => r.url().endsWith('/api/auth/refresh'));
  await page.clock.runFor(30_000);
  await request;
  assert.equal((await response).status(), 200);
  const body = await (await response).json();
  await page.waitForFunction((t) => localStorage.getItem('nanoclaw_token') === t, body.data.token);
  assert.deepEqual(problems, []);
});
