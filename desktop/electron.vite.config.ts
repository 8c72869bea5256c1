import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'electron-vite';
import { cspPlugin } from './vite/content-security-policy.js';

// One config, three bundles (the Teleport Connect layout): main and preload run
// in Node/Electron, the renderer is the same React app the relay serves as the
// web console, built here with the desktop CSP and platform adapter.
const here = import.meta.dirname;

export default defineConfig({
  main: {
    build: {
      // Node modules stay external, except our own TypeScript workspace packages (shared, and the CLI's Node entry with the RFB codecs it uses), which Electron cannot load as source.
      externalizeDeps: { exclude: ['@lightsout/shared', '@lightsout/cli', '@lightsout/bmc-wire'] },
      outDir: resolve(here, 'out/main'),
      rollupOptions: { input: { index: resolve(here, 'src/main/index.ts') } },
    },
  },
  preload: {
    build: {
      // A sandboxed preload cannot `require` anything but electron: bundle it whole, CommonJS.
      externalizeDeps: false,
      outDir: resolve(here, 'out/preload'),
      rollupOptions: {
        input: { index: resolve(here, 'src/preload/index.ts') },
        external: ['electron'],
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(here, 'src/renderer'),
    define: { __LIGHTSOUT_TARGET__: JSON.stringify('desktop') },
    plugins: [react(), cspPlugin('desktop')],
    build: {
      outDir: resolve(here, 'out/renderer'),
      rollupOptions: { input: { index: resolve(here, 'src/renderer/index.html') } },
    },
  },
});
