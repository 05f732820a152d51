// Measures how the page copes with a 20,000-token streamed answer: main-thread long tasks
// (> 50 ms, Chromium's Long Tasks API), animation frames delivered, and the wall time to the
// end of the answer. Prints the figures; it asserts nothing (performance goals are measured,
// not asserted in tests). Usage: node e2e/perf.mjs   (after web/e2e/run has built everything)
import { startStack, launch, newPage, PASSWORD } from './harness.mjs';

const stack = await startStack({ mode: 'multi' });
const browser = await launch();
try {
  const reg = await stack.api('POST', '/api/auth/register', { username: 'perf', password: PASSWORD });
  const { page } = await newPage(browser);
  await page.goto(stack.baseURL + '/');
  await page.evaluate((t) => localStorage.setItem('nanoclaw_token', t), reg.body.data.token);
  await page.reload();
  await page.getByRole('button', { name: '+ New chat' }).click();
  await page.locator('#composer-input').waitFor();
  await page.evaluate(() => {
    window.__long = [];
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) {
        window.__long.push(e.duration);
        window.__at.push([Math.round(e.startTime - window.__t0), Math.round(e.duration)]);
      }
    }).observe({ type: 'longtask', buffered: false });
    window.__at = [];
    window.__frames = 0; window.__t0 = performance.now();
    const tick = () => { window.__frames++; window.__raf = requestAnimationFrame(tick); };
    tick();
  });
  const t0 = Date.now();
  await page.locator('#composer-input').fill('BIG answer');
  await page.locator('#composer-input').press('Enter');
  await page.getByRole('button', { name: 'Send' }).waitFor({ timeout: 300000 });
  const wall = Date.now() - t0;
  const r = await page.evaluate(() => ({ long: window.__long, frames: window.__frames, chars: document.querySelector('article.assistant .md').textContent.length, at: window.__at }));
  const longest = r.long.length ? Math.max(...r.long) : 0;
  const blocked = r.long.reduce((s, d) => s + d, 0);
  console.log(`20,000-token answer: ${r.chars} characters rendered in ${wall} ms`);
  console.log(`animation frames during it: ${r.frames} (${(r.frames / (wall / 1000)).toFixed(1)} fps)`);
  console.log('long tasks at [ms since send, duration]:', JSON.stringify(r.at || []));
  console.log(`long tasks: ${r.long.length}, longest ${longest.toFixed(0)} ms, total ${blocked.toFixed(0)} ms (${((100 * blocked) / wall).toFixed(1)} % of the time)`);
} finally {
  await browser.close();
  await stack.stop();
}
