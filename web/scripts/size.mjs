// Prints the size of the JavaScript a first visit downloads (the entry chunk and the chunks
// index.html preloads), gzipped, and fails when it exceeds the budget (150 KB).
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';

const dist = new URL('../dist/', import.meta.url).pathname;
const BUDGET = 150 * 1024;
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const first = new Set([...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]));
let total = 0;
const gz = (f) => gzipSync(readFileSync(join(dist, f)), { level: 9 }).length;
console.log('first-load JavaScript (gzip -9):');
for (const f of first) {
  const n = gz(f);
  total += n;
  console.log(`  ${f}  ${(n / 1024).toFixed(1)} KB`);
}
let lazy = 0;
for (const f of readdirSync(join(dist, 'assets'))) {
  if (f.endsWith('.js') && !first.has('assets/' + f)) lazy += gz('assets/' + f);
}
const css = readdirSync(join(dist, 'assets')).filter((f) => f.endsWith('.css')).reduce((s, f) => s + gz('assets/' + f), 0);
console.log(`first-load JS total: ${(total / 1024).toFixed(1)} KB of ${BUDGET / 1024} KB budget`);
console.log(`lazy JS (admin, projects, stats, account): ${(lazy / 1024).toFixed(1)} KB; CSS: ${(css / 1024).toFixed(1)} KB`);
if (total > BUDGET) {
  console.error('first-load JavaScript is over budget');
  process.exit(1);
}
