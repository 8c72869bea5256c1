import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { cspPlugin } from './vite/content-security-policy.js';

// The web console: the desktop renderer built for a browser, with the web
// platform adapter and the same-origin CSP. The relay serves out/web at `/`.
const here = import.meta.dirname;

export default defineConfig({
  root: resolve(here, 'src/renderer'),
  base: '/',
  define: { __LIGHTSOUT_TARGET__: JSON.stringify('web') },
  plugins: [react(), cspPlugin('web')],
  build: {
    outDir: resolve(here, 'out/web'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2048,
  },
});
