/**
 * The CLI as one file: `npm run bundle -w @lightsout/cli` writes
 * `cli/dist/lightsout.mjs`, every dependency (commander, ws, tus-js-client,
 * typebox, @lightsout/shared) inside, runnable by any Node ≥ 22 with nothing
 * installed beside it — what a NOC technician copies to a workstation or a
 * jump host. It also starts in a fifth of the time: from the sources under
 * tsx, `--help` took 0.62 s here (median of 10), most of it resolving and
 * loading hundreds of small ES modules, against 0.12 s for the bundle.
 *
 *   npm run bundle -w @lightsout/cli [-- --outfile PATH]
 */
import { chmodSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { SERVER_MALLOC_TUNABLES, SERVER_NODE_FLAGS, shebangFor } from '@lightsout/scripts/server-node-flags';

const entry = fileURLToPath(new URL('../src/entry.ts', import.meta.url));
export const defaultOutfile = fileURLToPath(new URL('../dist/lightsout.mjs', import.meta.url));

/** ws's optional native speed-ups: loaded when installed beside the file, JavaScript otherwise. */
export const optionalAddons = ['bufferutil', 'utf-8-validate'];

/** Bundles the CLI into `outfile` (an executable ES module): its size, and what it still imports from outside. */
export async function bundleCli(outfile: string = defaultOutfile): Promise<{ bytes: number; imports: string[] }> {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    // Beside the file, not needed to run it: `node --enable-source-maps` maps a field report's stack trace to the sources.
    sourcemap: 'linked',
    metafile: true,
    legalComments: 'eof',
    banner: {
      // ws and tus-js-client are CommonJS and call require() for Node built-ins and optional addons:
      // an ES module bundle has no require of its own, so give it one.
      // The first line gives node the relay's and agent's flags: an upload streams gigabytes through the CLI too.
      js: `${shebangFor(SERVER_NODE_FLAGS, SERVER_MALLOC_TUNABLES)}\nimport { createRequire as __lightsoutCreateRequire } from 'node:module';\nconst require = __lightsoutCreateRequire(import.meta.url);`,
    },
    // Left out, so the file runs anywhere: the CLI's own traffic is small.
    external: optionalAddons,
    logLevel: 'warning',
  });
  chmodSync(outfile, 0o755);
  const output = Object.values(result.metafile.outputs).find((candidate) => candidate.entryPoint !== undefined)!;
  return { bytes: output.bytes, imports: [...new Set(output.imports.filter((entry) => entry.external).map((entry) => entry.path))].sort() };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const index = process.argv.indexOf('--outfile');
  const outfile = index >= 0 ? process.argv[index + 1]! : defaultOutfile;
  const { bytes } = await bundleCli(outfile);
  console.log(`${outfile}: ${(bytes / 1024).toFixed(0)} KiB, run it with: node ${outfile} --help`);
}
