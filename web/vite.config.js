import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The backend the dev server proxies /api to (`npm run dev`).
const backend = process.env.NANOCLAW_URL || 'http://127.0.0.1:3000';

export default defineConfig({
  plugins: [svelte()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    // The server's CSP forbids inline scripts and data: fonts are not needed: keep every
    // asset a file so nothing ends up inlined into index.html.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { '/api': { target: backend, changeOrigin: false } },
  },
});
