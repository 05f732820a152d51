// Single-user mode: no sign-in at all; with no model configured the first-run help shows.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, launch, newPage, shot } from './harness.mjs';

const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test('single mode without a model: straight in, first-run help instead of an empty list', async () => {
  const stack = await startStack({ mode: 'single', model: false });
  cleanups.push(() => stack.stop());
  const browser = await launch();
  cleanups.push(() => browser.close());
  const { page, problems } = await newPage(browser);
  await page.goto(stack.baseURL + '/');
  await page.getByRole('heading', { name: 'No model is configured yet' }).waitFor();
  assert.equal(await page.getByLabel('Password').count(), 0);
  assert.match(await page.locator('.first-run').textContent(), /api_url[\s\S]*11434/);
  await shot(page, 'first-run');
  assert.deepEqual(problems, []);
});

test('single mode with a model: chat without signing in, thinking as a collapsible step', async () => {
  const stack = await startStack({ mode: 'single', model: true });
  cleanups.push(() => stack.stop());
  const browser = await launch();
  cleanups.push(() => browser.close());
  const { page, problems } = await newPage(browser);
  await page.goto(stack.baseURL + '/');
  await page.getByRole('heading', { name: 'New chat' }).waitFor();
  assert.equal(await page.getByLabel('Password').count(), 0);
  await page.locator('#first-message').fill('THINK about it');
  await page.locator('#first-message').press('Enter');
  await page.getByText('Thought it through').waitFor();
  const thinking = page.locator('details.step.thinking');
  assert.equal(await thinking.count(), 1);
  await thinking.locator('summary').click();
  await thinking.getByText('Considering the question carefully.').waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('nanoclaw_token')), null);
  await page.reload();
  await page.getByText('Thought it through').waitFor();
  assert.deepEqual(problems, []);
});

test('single mode with single_token: the page asks for the token once and keeps it', async () => {
  const secret = 'e2e-single-token-0123456789';
  const stack = await startStack({ mode: 'single', model: false, extra: [`single_token: ${secret}`] });
  cleanups.push(() => stack.stop());
  const browser = await launch();
  cleanups.push(() => browser.close());
  const { page, problems } = await newPage(browser);
  await page.goto(stack.baseURL + '/');
  await page.getByLabel('Access token').fill('wrong-token-wrong-token');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByText('That access token was not accepted.').waitFor();
  await page.getByLabel('Access token').fill(secret);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'No model is configured yet' }).waitFor();
  await page.reload();
  await page.getByRole('heading', { name: 'No model is configured yet' }).waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('nanoclaw_token')), secret);
  assert.deepEqual(problems, []);
});
