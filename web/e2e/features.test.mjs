// The rest of the UI's features, each checked through the API afterwards: conversation paging,
// search, rename, delete; regenerate and delete a message; settings and project binding; an
// error event; folder upload, image preview, content search, file create/rename/delete; a long
// streamed answer that leaves the page responsive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, launch, newPage, PASSWORD } from './harness.mjs';

let stack, browser, page, problems, token;

// A 2×2 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');

before(async () => {
  stack = await startStack({ mode: 'multi' });
  const reg = await stack.api('POST', '/api/auth/register', { username: 'carol', password: PASSWORD });
  assert.equal(reg.status, 200, JSON.stringify(reg.body));
  token = reg.body.data.token;
  browser = await launch();
  ({ page, problems } = await newPage(browser));
  await page.goto(stack.baseURL + '/');
  await page.evaluate((t) => localStorage.setItem('nanoclaw_token', t), token);
  await page.reload();
  await page.getByRole('button', { name: '+ New chat' }).waitFor();
});

after(async () => {
  if (browser) await browser.close();
  if (stack) await stack.stop();
});

const api = (method, path, body) => stack.api(method, path, body, token);

async function send(text) {
  await page.locator('#composer-input').fill(text);
  await page.locator('#composer-input').press('Enter');
}

test('conversation list: infinite scroll, title search, rename, delete', async () => {
  for (let i = 1; i <= 25; i++) {
    const r = await api('POST', '/api/conversations', { title: `Topic ${String(i).padStart(2, '0')}`, model: 'mock' });
    assert.equal(r.status, 200);
  }
  await page.reload();
  const items = page.locator('.conv-list li');
  await items.first().waitFor();
  // the first page is 20; scrolling the sidebar to its end loads the rest
  await page.locator('.sentinel').scrollIntoViewIfNeeded();
  await page.locator('.conv-list li', { hasText: 'Topic 01' }).waitFor();
  assert.equal(await items.count(), 25);

  await page.getByLabel('Search conversations by title').fill('topic 07');
  await page.locator('.conv-list li', { hasText: 'Topic 07' }).waitFor();
  assert.equal(await items.count(), 1);

  await page.getByRole('button', { name: 'Rename Topic 07' }).click();
  await page.getByLabel('New title').fill('Renamed seven');
  await page.getByLabel('New title').press('Enter');
  await page.getByLabel('Search conversations by title').fill('renamed');
  await page.locator('.conv-list li', { hasText: 'Renamed seven' }).waitFor();
  const list = await api('GET', '/api/conversations?limit=100');
  const seven = list.body.data.items.find((c) => c.title === 'Renamed seven');
  assert.ok(seven, 'rename reached the server');

  await page.getByRole('button', { name: 'Delete Renamed seven' }).click();
  await page.getByRole('button', { name: 'Confirm delete' }).click();
  await page.getByText('No conversation matches.').waitFor();
  assert.equal((await api('GET', `/api/conversations/${seven.id}`)).status, 404);
});

test('regenerate an answer, delete a message, an error event', async () => {
  await page.getByLabel('Search conversations by title').fill('');
  await page.getByRole('button', { name: '+ New chat' }).click();
  await page.locator('#composer-input').waitFor();
  const id = page.url().split('/c/')[1];
  await send('Show me code');
  await page.getByText('Hello! You said: Show me code').waitFor();
  await page.getByRole('button', { name: '↻ Regenerate' }).click();
  await page.getByRole('button', { name: '↻ Regenerate' }).waitFor();
  let msgs = (await api('GET', `/api/conversations/${id}/messages`)).body.data.items;
  assert.deepEqual(msgs.map((m) => m.role), ['user', 'assistant']);
  assert.equal(await page.locator('article.assistant').count(), 1);

  const user = page.locator('article.user').first();
  await user.getByRole('button', { name: 'Delete' }).click();
  await user.getByRole('button', { name: 'Really delete?' }).click();
  await page.locator('article.user').waitFor({ state: 'detached' });
  msgs = (await api('GET', `/api/conversations/${id}/messages`)).body.data.items;
  assert.deepEqual(msgs.map((m) => m.role), ['assistant']);

  await send('FAIL now');
  const alert = page.locator('article.assistant').last().locator('.error-box');
  await alert.waitFor();
  assert.match(await alert.textContent(), /LLM|mock|fail/i);
});

test('a long conversation: the newest 50 messages first, earlier ones on request', async () => {
  const conv = (await api('POST', '/api/conversations', { title: 'Long one', model: 'mock' })).body.data;
  for (let i = 1; i <= 26; i++) {
    const r = await api('POST', `/api/conversations/${conv.id}/messages`, { text: `question ${i}` });
    assert.equal(r.status, 200);
  }
  await page.goto(stack.baseURL + `/#/c/${conv.id}`);
  await page.locator('.bubble', { hasText: 'question 26' }).waitFor();
  assert.equal(await page.locator('article.message').count(), 50);
  assert.equal(await page.locator('.bubble', { hasText: /^question 1$/ }).count(), 0);
  await page.getByRole('button', { name: 'Load earlier messages' }).click();
  await page.locator('.bubble', { hasText: /^question 1$/ }).waitFor();
  assert.equal(await page.locator('article.message').count(), 52);
  assert.equal(await page.getByRole('button', { name: 'Load earlier messages' }).count(), 0);
  const first = await page.locator('article.message').first().textContent();
  assert.match(first, /question 1\b/);
});

test('settings: system prompt, temperature and project binding are saved', async () => {
  const proj = await api('POST', '/api/projects', { name: 'bound', description: '' });
  assert.equal(proj.status, 200);
  const id = page.url().split('/c/')[1];
  assert.ok(id);
  await page.getByRole('button', { name: '⚙ Settings' }).click();
  await page.getByLabel('System prompt').fill('Be brief.');
  await page.getByLabel('Max tokens').fill('2048');
  await page.getByLabel('Project').selectOption({ label: 'bound' });
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByText('Saved.').waitFor();
  await page.locator('a.badge', { hasText: 'bound' }).waitFor();
  const conv = (await api('GET', `/api/conversations/${id}`)).body.data;
  assert.equal(conv.system_prompt, 'Be brief.');
  assert.equal(conv.max_tokens, 2048);
  assert.equal(conv.project_id, proj.body.data.id);
});

test('projects: upload a folder, preview an image, search, new/rename/delete files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nanoclaw-upload-'));
  mkdirSync(join(dir, 'algo', 'src'), { recursive: true });
  writeFileSync(join(dir, 'algo', 'src', 'main.py'), 'def hello():\n    return "needle in a haystack"\n');
  writeFileSync(join(dir, 'algo', 'dot.png'), PNG);
  // Untrusted content and names: shown as text, never interpreted.
  writeFileSync(join(dir, 'algo', 'evil.html'), '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>\n');
  writeFileSync(join(dir, 'algo', '<img src=x onerror=window.__pwned=3>.md'), 'name test\n');
  try {
    await page.goto(stack.baseURL + '/#/projects');
    await page.locator('input[webkitdirectory]').setInputFiles(join(dir, 'algo'));
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.getByRole('heading', { name: 'algo' }).waitFor();

    await page.getByRole('button', { name: '📄 dot.png' }).click();
    const img = page.locator('img.preview');
    await img.waitFor();
    assert.match(await img.getAttribute('src'), /^blob:/);
    await page.waitForFunction(() => document.querySelector('img.preview').naturalWidth === 2);

    await page.getByRole('button', { name: '📄 evil.html' }).click();
    await page.locator('.file-view').getByText('window.__pwned=2').waitFor();
    assert.equal(await page.locator('.file-view img, .file-view script').count(), 0);
    await page.getByRole('button', { name: '📄 <img src=x onerror=window.__pwned=3>.md' }).click();
    await page.locator('.file-view').getByText('name test').waitFor();
    assert.equal(await page.evaluate(() => window.__pwned), undefined);

    await page.getByRole('button', { name: '▸ 📁 src' }).click();
    await page.getByRole('button', { name: '📄 main.py' }).click();
    await page.locator('.file-view .hljs-keyword', { hasText: 'def' }).waitFor();

    await page.getByLabel('Search file contents').fill('needle');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.locator('.search-results').getByText('src/main.py').waitFor();

    await page.locator('#new-path').fill('docs/a.txt');
    await page.getByRole('button', { name: 'Add' }).click();
    await page.locator('h2.file-path', { hasText: 'docs/a.txt' }).waitFor();
    await page.getByLabel('Rename / move to').fill('docs/b.txt');
    await page.getByRole('button', { name: 'Move' }).click();
    await page.locator('h2.file-path', { hasText: 'docs/b.txt' }).waitFor();
    const pid = page.url().split('/projects/')[1];
    assert.equal((await api('GET', `/api/projects/${pid}/files/docs/b.txt`)).status, 200);
    assert.equal((await api('GET', `/api/projects/${pid}/files/docs/a.txt`)).status, 404);

    await page.getByRole('button', { name: '▸ 📁 docs' }).click();
    await page.getByRole('button', { name: 'Delete docs/b.txt' }).click();
    await page.getByRole('button', { name: 'Delete docs/b.txt' }).click();
    await page.getByText('Choose a file.').waitFor();
    assert.equal((await api('GET', `/api/projects/${pid}/files/docs/b.txt`)).status, 404);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a 20,000-token answer streams while the page keeps answering input', async () => {
  await page.goto(stack.baseURL + '/#/');
  await page.getByRole('button', { name: '+ New chat' }).click();
  await send('BIG answer');
  // While it streams, typing reaches the composer (the main thread is not monopolised).
  await page.getByRole('button', { name: '■ Stop' }).waitFor();
  await page.locator('#composer-input').pressSequentially('still typing');
  assert.equal(await page.locator('#composer-input').inputValue(), 'still typing');
  await page.getByRole('button', { name: 'Send' }).waitFor({ timeout: 120000 });
  const text = await page.locator('article.assistant').last().locator('.md').textContent();
  assert.match(text, /tok19999/);
  assert.deepEqual(problems, []);
});

test('keyboard: Shift+Enter is a new line, Enter sends, Escape closes the account menu', async () => {
  const before = await page.locator('article.user').count();
  const box = page.locator('#composer-input');
  await box.fill('first line');
  await box.press('Shift+Enter');
  await box.pressSequentially('second line');
  assert.equal(await box.inputValue(), 'first line\nsecond line');
  assert.equal(await page.locator('article.user').count(), before);
  await box.press('Enter');
  await page.locator('.bubble', { hasText: 'first line\nsecond line' }).waitFor();
  await page.getByRole('button', { name: 'Send' }).waitFor();

  await page.getByRole('button', { name: /carol/ }).click();
  await page.getByRole('menu').waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('menu').waitFor({ state: 'detached' });
  assert.deepEqual(problems, []);
});

test('attachments: a text file goes with the message and is stored with it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nanoclaw-attach-'));
  try {
    writeFileSync(join(dir, 'notes.txt'), 'ATTACHED-CONTENT-XYZ\n');
    const id = page.url().split('/c/')[1];
    await page.locator('form.composer input[type=file]').setInputFiles(join(dir, 'notes.txt'));
    await page.getByRole('list', { name: 'Attached files' }).getByText('notes.txt').waitFor();
    await page.locator('#composer-input').fill('read this');
    await page.locator('#composer-input').press('Enter');
    await page.locator('article.user').last().getByText('📎 notes.txt').waitFor();
    await page.getByRole('button', { name: 'Send' }).waitFor();
    const msgs = (await api('GET', `/api/conversations/${id}/messages`)).body.data.items;
    const mine = msgs.filter((m) => m.role === 'user').pop();
    assert.equal(mine.text, 'read this');
    assert.deepEqual(mine.attachments, [{ name: 'notes.txt', extension: 'txt', content: 'ATTACHED-CONTENT-XYZ\n' }]);
    assert.deepEqual(problems, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('account: end another session; change the password with the current one', async () => {
  const other = await stack.api('POST', '/api/auth/login', { username: 'carol', password: PASSWORD });
  assert.equal(other.status, 200);
  const otherToken = other.body.data.token;
  await page.goto(stack.baseURL + '/#/account');
  const rows = page.locator('section', { hasText: 'Sessions' }).locator('tbody tr');
  await page.getByText('this device', { exact: true }).waitFor();
  assert.ok((await rows.count()) >= 2);
  const before = await rows.count();
  const ended = page.waitForResponse((r) => r.url().includes('/api/auth/sessions/') && r.request().method() === 'DELETE');
  const relisted = page.waitForResponse((r) => r.url().endsWith('/api/auth/sessions') && r.request().method() === 'GET');
  await rows.filter({ hasNotText: 'this device' }).first().getByRole('button', { name: 'End' }).click();
  assert.equal((await ended).status(), 200);
  await relisted;
  await page.waitForFunction((n) => document.querySelectorAll('section tbody tr').length < n + 2, before);
  // the ended session's token no longer works
  assert.equal((await stack.api('GET', '/api/auth/profile', undefined, otherToken)).status, 401);

  const form = page.locator('section', { hasText: 'Change password' });
  await form.getByLabel('Current password').fill('not-the-password-at-all');
  await form.getByLabel('New password').fill('another-long-passphrase-88');
  await form.getByRole('button', { name: 'Change password' }).click();
  await form.locator('.field-error').waitFor();
  await form.getByLabel('Current password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Change password' }).click();
  await form.getByText('Password changed.').waitFor();
  // the page got a fresh token for this session and keeps working after a reload
  await page.reload();
  await page.getByRole('heading', { name: 'Account' }).waitFor();
  assert.equal((await stack.api('POST', '/api/auth/login', { username: 'carol', password: PASSWORD })).status, 401);
  assert.equal((await stack.api('POST', '/api/auth/login', { username: 'carol', password: 'another-long-passphrase-88' })).status, 200);
  assert.deepEqual(problems, []);
});
