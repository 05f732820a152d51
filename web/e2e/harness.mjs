// Starts the real nanoclaw server (debug binary) with a temporary config, SQLite file and
// workspace, the scripted model, and — until the binary serves the UI itself — a small static
// server for web/dist that proxies /api to it with the same CSP the server will send.
// E2E_DIRECT=1 forces the server itself, E2E_PROXY=1 the proxy; by default GET / decides.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, extname, normalize } from 'node:path';
import http from 'node:http';
import { chromium } from 'playwright-core';
import { startMockLlm } from './mock-llm.mjs';

const root = new URL('../..', import.meta.url).pathname;
const dist = join(root, 'web', 'dist');
export const artifacts = join(root, 'web', 'e2e', 'artifacts');
mkdirSync(artifacts, { recursive: true });

export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";
export const PASSWORD = 'violet-harbour-ladder-73';

function binary(name) {
  const p = join(root, 'target', 'debug', name);
  if (!existsSync(p)) throw new Error(`${p} is missing: run web/e2e/run (it builds it)`);
  return p;
}

async function startNanoclaw({ mode, model, extra = [] }) {
  const dir = mkdtempSync(join(tmpdir(), 'nanoclaw-e2e-'));
  const lines = [
    `auth_mode: ${mode}`,
    `data_dir: ${join(dir, 'data')}`,
    `workspace_root: ${join(dir, 'ws')}`,
    'log_format: json',
    'login_rate_limit: 0',
    ...extra,
  ];
  if (model) {
    lines.push('models:', `  - {id: mock, name: Mock model, api_url: "${model}", api_key: test-key}`);
  }
  writeFileSync(join(dir, 'config.yml'), lines.join('\n') + '\n');
  const child = spawn(binary('nanoclaw'), ['serve', '--config', join(dir, 'config.yml'), '--port', '0'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: 'warn,nanoclaw=info,nanoclaw_server=info' },
  });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const onData = (d) => {
      log += d;
      const m = log.match(/listening on (http:\/\/[0-9.:\[\]]+)/);
      if (m) resolve(m[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`nanoclaw exited with ${code}:\n${log}`)));
  });
  return {
    url,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json', '.woff2': 'font/woff2',
};

function startProxy(backend) {
  const target = new URL(backend);
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/api/') || req.url === '/api') {
      const upstream = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      res.on('close', () => upstream.destroy());
      req.pipe(upstream);
      return;
    }
    const path = normalize(decodeURIComponent(req.url.split('?')[0])).replace(/^(\.\.[/\\])+/, '');
    let file = join(dist, path);
    if (!file.startsWith(dist) || !existsSync(file) || path === '/' || !extname(file)) file = join(dist, 'index.html');
    const headers = {
      'Content-Type': TYPES[extname(file)] || 'application/octet-stream',
      'Content-Security-Policy': CSP,
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': file.endsWith('index.html') ? 'no-cache' : 'public, max-age=31536000, immutable',
    };
    res.writeHead(200, headers);
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}

async function servesUi(url) {
  if (process.env.E2E_DIRECT === '1') return true;
  if (process.env.E2E_PROXY === '1') return false;
  try {
    const res = await fetch(url + '/');
    return res.ok && (res.headers.get('content-type') || '').includes('text/html') && (await res.text()).includes('id="app"');
  } catch {
    return false;
  }
}

/** The whole stack: { baseURL, api(method, path, body, token), stop() }. */
export async function startStack({ mode = 'multi', model = true, extra = [] } = {}) {
  if (!existsSync(join(dist, 'index.html'))) throw new Error('web/dist is missing: run npm run build');
  const mock = model ? await startMockLlm() : null;
  const server = await startNanoclaw({ mode, model: mock && mock.url, extra });
  const direct = await servesUi(server.url);
  const proxy = direct ? null : await startProxy(server.url);
  // Direct: the binary's own copy of the UI (embedded when it was built); proxy: web/dist now.
  console.log(`# e2e: UI ${direct ? 'served by nanoclaw itself' : 'from web/dist through the test proxy'}`);
  const baseURL = direct ? server.url : proxy.url;
  return {
    baseURL,
    direct,
    serverLog: server.log,
    async api(method, path, body, token) {
      const headers = { 'Content-Type': 'application/json' };
      if (token) headers.Authorization = `Bearer ${token}`;
      const res = await fetch(server.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: await res.json().catch(() => null) };
    },
    async stop() {
      if (proxy) await proxy.close();
      await server.stop();
      if (mock) await mock.close();
    },
  };
}

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true });
}

/** A page that records console errors, page errors and dialogs (tests assert none). */
export async function newPage(browser, { width = 1280, height = 800, colorScheme = 'light' } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const problems = [];
  page.on('console', (m) => {
    // A failed request the test provokes (400, 401) is logged by the browser itself; the app
    // shows those in place. Everything else (CSP violations, exceptions) is a problem.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  return { context, page, problems };
}

export async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`) });
}
