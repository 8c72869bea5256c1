import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The web console: the desktop renderer built for a browser, with the web
// platform adapter. The relay serves out/web at `/` and sends its
// Content-Security-Policy as a header (it names the configured issuer).
const here = import.meta.dirname;

export default defineConfig({
  root: resolve(here, 'src/renderer'),
  base: '/',
  define: { __LIGHTSOUT_TARGET__: JSON.stringify('web') },
  plugins: [react()],
  build: {
    outDir: resolve(here, 'out/web'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2048,
  },
});
