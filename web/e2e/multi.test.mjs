// Multi-user mode in a real browser: sign up, sign in, chat with streaming and a tool step,
// stop, reload, a project file written by the model, a hostile answer, an admin disabling a
// user who is then signed out, account keys and the usage chart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, launch, newPage, shot, PASSWORD } from './harness.mjs';

let stack, browser, admin;

before(async () => {
  stack = await startStack({ mode: 'multi' });
  browser = await launch();
  admin = await newPage(browser);
});

after(async () => {
  if (browser) await browser.close();
  if (stack) await stack.stop();
});

async function send(page, text) {
  const box = page.locator('#composer-input');
  await box.fill(text);
  await box.press('Enter');
}

async function newChat(page) {
  await page.goto(stack.baseURL + '/#/');
  await page.getByRole('button', { name: '+ New chat' }).click();
  await page.locator('#composer-input').waitFor();
}

test('sign up: password rules shown in place, then the first account is the admin', async () => {
  const { page } = admin;
  await page.goto(stack.baseURL + '/');
  await page.getByRole('heading', { name: 'nanoclaw' }).waitFor();
  await shot(page, 'sign-in');
  await page.getByRole('tab', { name: 'Create account' }).click();
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('abc');
  await page.getByRole('button', { name: 'Create account' }).click();
  const err = page.locator('#err-password');
  await err.waitFor();
  assert.match(await err.textContent(), /password/i);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('link', { name: 'Admin' }).waitFor();
  assert.ok(await page.evaluate(() => localStorage.getItem('nanoclaw_token')));
});

test('chat: a streamed answer with a tool step, rendered Markdown and a copy button', async () => {
  const { page } = admin;
  await newChat(page);
  await send(page, 'CALC what is 6*7?');
  await page.getByText('The calculator says').waitFor();
  const answer = page.locator('article.assistant').last();
  assert.equal(await answer.locator('strong', { hasText: '42' }).count(), 1);
  const step = answer.locator('details.step.tool');
  assert.equal(await step.count(), 1);
  await step.locator('summary').click();
  assert.match(await step.textContent(), /calculator[\s\S]*6\*7[\s\S]*42/);
  await page.getByRole('button', { name: '↻ Regenerate' }).waitFor();
  await shot(page, 'chat-tool-step');

  await send(page, 'Show me code');
  await page.getByText('Hello! You said: Show me code').waitFor();
  const block = page.locator('article.assistant').last().locator('.code-block');
  await block.locator('button.copy').waitFor();
  assert.ok(await block.locator('.hljs-keyword, .hljs-title, .hljs-string').count() > 0, 'code is highlighted');
});

test('stop: the partial answer stays and the stream ends', async () => {
  const { page } = admin;
  await send(page, 'SLOW please');
  await page.getByText('word3', { exact: false }).waitFor();
  await page.getByRole('button', { name: '■ Stop' }).click();
  const answer = page.locator('article.assistant').last();
  await answer.getByText('Stopped.').waitFor();
  const partial = await answer.locator('.md').textContent();
  assert.match(partial, /word0 word1 word2 word3/);
  assert.doesNotMatch(partial, /word599/);
  await page.getByRole('button', { name: 'Send' }).waitFor();
});

test('reload: the session and the history survive', async () => {
  const { page } = admin;
  const url = page.url();
  assert.match(url, /#\/c\//);
  await page.reload();
  await page.locator('.bubble', { hasText: 'CALC what is 6*7?' }).waitFor();
  await page.getByText('The calculator says').waitFor();
  await page.getByRole('link', { name: 'Admin' }).waitFor();
});

test('project: a file written by the model shows in the file tree', async () => {
  const { page } = admin;
  await page.goto(stack.baseURL + '/#/projects');
  await page.getByLabel('Name', { exact: true }).first().fill('demo');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { name: 'demo' }).waitFor();
  await page.getByRole('button', { name: 'Chat in this project' }).click();
  await page.locator('#composer-input').waitFor();
  await send(page, 'WRITEFILE a note');
  await page.getByText('I wrote notes/hello.md for you.').waitFor();
  await page.locator('a.badge', { hasText: 'demo' }).click();
  await page.getByRole('button', { name: /📁 notes/ }).click();
  await page.getByRole('button', { name: '📄 hello.md' }).click();
  await page.locator('.file-view').getByText('# Hello from the model').waitFor();
  await shot(page, 'project-files');
  // edit and save through the UI, then read it back through the API
  await page.getByRole('button', { name: 'Edit' }).click();
  await page.locator('#editor').fill('edited in the browser\n');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.locator('.file-view').getByText('edited in the browser').waitFor();
});

test('hostile answer: nothing in it runs', async () => {
  const { page, problems } = admin;
  await newChat(page);
  await send(page, 'HOSTILE answer please');
  await page.getByText('END-OF-HOSTILE').waitFor();
  const answer = page.locator('article.assistant').last();
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await answer.locator('script, iframe, svg, img, style, [onerror], [onload], [ontoggle]').count(), 0);
  for (const href of await answer.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')))) {
    assert.ok(href === null || /^https?:/.test(href), `unsafe href ${href}`);
  }
  const safe = answer.locator('a[href="https://example.com/docs"]');
  assert.equal(await safe.getAttribute('rel'), 'noopener noreferrer nofollow');
  // clicking the neutralised links runs nothing either
  await answer.getByText('click me').click();
  await answer.getByText('raw anchor').click();
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.ok(await answer.textContent().then((t) => t.includes('<script>window.__pwned = "script"</script>')), 'raw HTML is shown as text');

  // hostile tool arguments and results, and an answer quoting them
  await send(page, 'EVILTOOL run it');
  await page.getByText('Tool finished:').waitFor();
  const toolAnswer = page.locator('article.assistant').last();
  await toolAnswer.locator('details.step.tool summary').click();
  await toolAnswer.locator('details.step.tool').getByText('onerror', { exact: false }).first().waitFor();
  assert.equal(await toolAnswer.locator('img, script, svg, iframe, [onerror]').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(problems, []);
});

test('admin disables a user, who is then signed out', async () => {
  const bob = await newPage(browser);
  await bob.page.goto(stack.baseURL + '/');
  await bob.page.getByRole('tab', { name: 'Create account' }).click();
  await bob.page.getByLabel('Username').fill('bob');
  await bob.page.getByLabel('Password').fill(PASSWORD);
  await bob.page.getByRole('button', { name: 'Create account' }).click();
  await bob.page.getByRole('button', { name: '+ New chat' }).waitFor();
  assert.equal(await bob.page.getByRole('link', { name: 'Admin' }).count(), 0);

  const { page } = admin;
  await page.goto(stack.baseURL + '/#/admin');
  const row = page.locator('tr[data-user="bob"]');
  await row.waitFor();
  await shot(page, 'admin-users');
  await row.getByRole('checkbox').uncheck();
  await row.getByText('disabled').waitFor();

  await bob.page.getByRole('button', { name: '+ New chat' }).click();
  await bob.page.getByText('You have been signed out').waitFor();
  await bob.page.getByRole('button', { name: 'Sign in' }).last().waitFor();
  assert.equal(await bob.page.evaluate(() => localStorage.getItem('nanoclaw_token')), null);
  // and cannot sign back in
  await bob.page.getByLabel('Username').fill('bob');
  await bob.page.getByLabel('Password').fill(PASSWORD);
  await bob.page.getByRole('button', { name: 'Sign in' }).last().click();
  await bob.page.getByText('Account is disabled').waitFor();
  await bob.context.close();

  // the audit log shows it
  await page.getByLabel('Action').fill('');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.locator('table').last().locator('tbody tr').first().waitFor();
});

test('admin: create a user, change the role, issue a reset token, delete; filter the audit log', async () => {
  const { page, problems } = admin;
  await page.goto(stack.baseURL + '/#/admin');
  const create = page.locator('form.inline-form').first();
  await create.getByLabel('Username').fill('erin');
  await create.getByLabel('Password').fill(PASSWORD);
  await create.getByRole('button', { name: 'Create' }).click();
  const row = page.locator('tr[data-user="erin"]');
  await row.waitFor();
  const patched = page.waitForResponse((r) => r.url().includes('/api/admin/users/') && r.request().method() === 'PATCH');
  await row.getByLabel('Role of erin').selectOption('admin');
  assert.equal((await patched).status(), 200);
  const token = await page.evaluate(() => localStorage.getItem('nanoclaw_token'));
  const users = (await stack.api('GET', '/api/admin/users?limit=100', undefined, token)).body.data.items;
  assert.equal(users.find((u) => u.username === 'erin').role, 'admin');

  await row.getByRole('button', { name: 'Reset token' }).click();
  await page.locator('.secret', { hasText: 'Reset token for erin' }).waitFor();
  const resetToken = (await page.locator('.secret .secret-value').textContent()).trim();
  assert.ok(resetToken.length >= 16);
  await page.getByRole('button', { name: 'Done' }).click();

  // erin uses it on the sign-in screen, then signs in with the new password
  const erin = await newPage(browser);
  await erin.page.goto(stack.baseURL + '/');
  await erin.page.getByRole('tab', { name: 'Reset password' }).click();
  await erin.page.getByLabel('Reset token').fill(resetToken);
  await erin.page.getByLabel('New password').fill('erin-fresh-passphrase-2026');
  await erin.page.getByRole('button', { name: 'Set new password' }).click();
  await erin.page.getByText('Password changed. Sign in with the new one.').waitFor();
  await erin.page.getByLabel('Username').fill('erin');
  await erin.page.getByLabel('Password').fill('erin-fresh-passphrase-2026');
  await erin.page.getByRole('button', { name: 'Sign in' }).last().click();
  await erin.page.getByRole('link', { name: 'Admin' }).waitFor();
  assert.deepEqual(erin.problems, []);
  await erin.context.close();

  await row.getByRole('button', { name: 'Delete' }).click();
  await row.getByRole('button', { name: 'Confirm delete' }).click();
  await row.waitFor({ state: 'detached' });
  const after = (await stack.api('GET', '/api/admin/users?limit=100', undefined, token)).body.data.items;
  assert.equal(after.some((u) => u.username === 'erin'), false);

  const audit = page.locator('section', { hasText: 'Audit log' });
  await audit.getByLabel('Action').fill('register');
  const filtered = page.waitForResponse((r) => r.url().includes('/api/admin/audit') && r.url().includes('action=register'));
  await audit.getByRole('button', { name: 'Filter' }).click();
  await filtered;
  await audit.locator('tbody tr td:nth-child(2)', { hasText: 'register' }).first().waitFor();
  const actions = await audit.locator('tbody tr td:nth-child(2)').allTextContents();
  assert.ok(actions.length >= 2, `register entries: ${actions}`);
  assert.ok(actions.every((a) => a === 'register'), actions.join(','));
  assert.deepEqual(problems, []);
});

test('account: API key secret shown once; sign out and sign in again', async () => {
  const { page } = admin;
  await page.goto(stack.baseURL + '/#/account');
  await page.getByRole('heading', { name: 'API keys' }).waitFor();
  const form = page.locator('form.inline-form');
  await form.getByLabel('Name').fill('laptop');
  await form.getByLabel('Current password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Create key' }).click();
  const secret = page.locator('.secret-value');
  await secret.waitFor();
  assert.match(await secret.textContent(), /^nck_/);
  await page.getByRole('cell', { name: 'laptop' }).waitFor();
  await page.getByRole('button', { name: 'Done' }).click();
  assert.equal(await page.locator('.secret-value').count(), 0);
  await shot(page, 'account');

  await page.getByRole('button', { name: 'Sign out this device' }).click();
  await page.getByText('Signed out.').waitFor();
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('wrong-password-entirely');
  await page.getByRole('button', { name: 'Sign in' }).last().click();
  await page.locator('#err-password', { hasText: 'Invalid username or password' }).waitFor();
  assert.equal(await page.getByText('You have been signed out').count(), 0);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).last().click();
  await page.getByRole('link', { name: 'Admin' }).waitFor();
});

test('usage chart and a phone-sized screen', async () => {
  const { page, problems } = admin;
  await page.goto(stack.baseURL + '/#/stats');
  await page.locator('.chart canvas').waitFor();
  await page.locator('.model-row', { hasText: 'mock' }).waitFor();
  await shot(page, 'usage');
  const phone = await newPage(browser, { width: 375, height: 740, colorScheme: 'dark' });
  const token = await page.evaluate(() => localStorage.getItem('nanoclaw_token'));
  await phone.page.goto(stack.baseURL + '/');
  await phone.page.evaluate((t) => localStorage.setItem('nanoclaw_token', t), token);
  await phone.page.reload();
  await phone.page.getByRole('button', { name: 'Show conversations' }).click();
  await phone.page.locator('.conv-list a').first().click();
  await phone.page.locator('article.assistant').first().waitFor();
  const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone`);
  await shot(phone.page, 'phone-chat');
  // the system's dark preference gives the dark theme
  const bg = await phone.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, 'rgb(15, 17, 21)');
  assert.deepEqual(phone.problems, []);
  assert.deepEqual(problems, []);
});
