/**
 * Compiles the programs that run as processes — the relay, the agent and the
 * BMC simulator — to one JavaScript file each, so that production (and every
 * test that spawns them) starts plain JavaScript instead of transforming
 * hundreds of TypeScript files through tsx at start-up.
 *
 *   npm run build                     relay/dist, agent/dist, bmcsim/dist
 *   npm run build -- relay agent      only these
 *   npm run build -- --if-stale       only the bundles that are not current
 *
 * Each `bin/` file starts its `dist/` bundle while the bundle is current
 * (every workspace source it was built from is unchanged, see
 * scripts/lib/built-entry.js) and the TypeScript sources through tsx
 * otherwise: editing a file never runs stale code, and
 * `LIGHTSOUT_FROM_SOURCE=1` forces the sources.
 *
 * What stays outside the bundle, installed beside it (node_modules): native
 * addons (better-sqlite3, ws's bufferutil/utf-8-validate, ssh2's cpu-features,
 * pg-native), and the packages that read their own files at run time.
 */
import { chmodSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build } from 'esbuild';
import { bundleIsCurrent } from './lib/start-program.js';
import { SERVER_MALLOC_TUNABLES, SERVER_NODE_FLAGS, shebangFor } from './lib/server-node-flags.js';

export const REPO = fileURLToPath(new URL('..', import.meta.url));

/**
 * Never bundled. Native addons cannot be; ws loads bufferutil and
 * utf-8-validate with a fallback when absent, ssh2 loads cpu-features the same
 * way, pg loads pg-native only when asked. @fastify/swagger-ui serves the
 * files of its own static/ folder, found from its __dirname.
 */
export const NATIVE_EXTERNALS = ['better-sqlite3', 'bufferutil', 'utf-8-validate', 'ssh2', 'pg-native'];
const RELAY_EXTERNALS = [...NATIVE_EXTERNALS, '@fastify/swagger-ui'];

export interface Program {
  name: 'relay' | 'agent' | 'bmcsim';
  /** The file `bin/` starts, and the one the packages ship. */
  outfile: string;
  /** The module's source: an entry that runs the program. */
  contents: string;
  external: string[];
  /** The relay's web console, relative to the compiled file (default: the checkout's desktop/out/web from relay/dist/). */
  webRoot?: string;
  /** Node.js flags the program runs with: in the bundle's first line, and in every launcher of it. */
  nodeFlags: readonly string[];
  /** glibc malloc settings the program starts with (`GLIBC_TUNABLES`): in the same places as its flags. */
  mallocTunables?: string;
}

/** `main(argv)` resolves to an exit code: the entry sets it without top-level await, so the same source bundles as CommonJS (the agent's single executable). */
const mainEntry = (file: string) => `import { main } from ${JSON.stringify(file)};\nmain(process.argv.slice(2)).then((code) => { process.exitCode = code; });\n`;

export const PROGRAMS: Record<Program['name'], Program> = {
  relay: { name: 'relay', outfile: join(REPO, 'relay/dist/lightsout-relay.mjs'), contents: `import ${JSON.stringify(join(REPO, 'relay/src/server.ts'))};\n`, external: RELAY_EXTERNALS, nodeFlags: SERVER_NODE_FLAGS, mallocTunables: SERVER_MALLOC_TUNABLES },
  agent: { name: 'agent', outfile: join(REPO, 'agent/dist/lightsout-agent.mjs'), contents: mainEntry(join(REPO, 'agent/src/main.ts')), external: NATIVE_EXTERNALS, nodeFlags: SERVER_NODE_FLAGS, mallocTunables: SERVER_MALLOC_TUNABLES },
  bmcsim: { name: 'bmcsim', outfile: join(REPO, 'bmcsim/dist/bmcsim.mjs'), contents: mainEntry(join(REPO, 'bmcsim/src/main.ts')), external: NATIVE_EXTERNALS, nodeFlags: [] },
};

/**
 * CommonJS packages bundled into an ES module call require() for Node
 * built-ins and optional addons: give the module one, and the __filename and
 * __dirname some of them read.
 */
const ESM_PRELUDE = [
  "import { createRequire as __lightsoutCreateRequire } from 'node:module';",
  "import { fileURLToPath as __lightsoutFileURLToPath } from 'node:url';",
  'const require = __lightsoutCreateRequire(import.meta.url);',
  'const __filename = __lightsoutFileURLToPath(import.meta.url);',
  "const __dirname = __lightsoutFileURLToPath(new URL('.', import.meta.url));",
].join('\n');

/** The esbuild options shared by the ES module bundles here and the agent's CommonJS one (scripts/package.ts). */
export function bundleOptions(program: Program): BuildOptions {
  return {
    stdin: { contents: program.contents, resolveDir: REPO, sourcefile: `${program.name}-entry.ts`, loader: 'ts' },
    bundle: true,
    platform: 'node',
    target: 'node22',
    external: program.external,
    // Stack traces of a field report map back to the sources with `node --enable-source-maps`.
    sourcemap: 'linked',
    // Names stay as written (class names appear in logs and errors); whitespace only.
    minifyWhitespace: true,
    legalComments: 'eof',
    // Where the compiled relay finds the web console (relay/src/config/load.ts).
    define: { LIGHTSOUT_WEB_ROOT: JSON.stringify(program.webRoot ?? '../../desktop/out/web') },
    metafile: true,
    logLevel: 'warning',
  };
}

/** The sources a bundle was built from, with the size and time the bin's freshness check compares. */
export interface InputManifest {
  builtAt: string;
  inputs: Array<{ path: string; size: number; mtimeMs: number }>;
}

/** Workspace sources only: node_modules changes only with the lock file, and the check stays a few hundred stat calls. */
export function manifestOf(inputs: string[], outfile: string): InputManifest {
  const base = dirname(outfile);
  const files = inputs
    .filter((input) => !input.includes('node_modules/') && !input.startsWith('<stdin>') && !input.includes('-entry.ts'))
    .map((input) => resolve(REPO, input))
    .sort();
  return {
    builtAt: new Date().toISOString(),
    inputs: files.map((file) => {
      const stat = statSync(file);
      return { path: relative(base, file), size: stat.size, mtimeMs: stat.mtimeMs };
    }),
  };
}

/** The bundle's first line. */
export function shebangOf(program: Program): string {
  return shebangFor(program.nodeFlags, program.mallocTunables);
}

export async function buildProgram(program: Program): Promise<{ outfile: string; bytes: number; inputs: number; ms: number }> {
  const started = performance.now();
  mkdirSync(dirname(program.outfile), { recursive: true });
  rmSync(`${program.outfile}.inputs.json`, { force: true });
  const result = await build({ ...bundleOptions(program), outfile: program.outfile, format: 'esm', banner: { js: `${shebangOf(program)}\n${ESM_PRELUDE}` } });
  chmodSync(program.outfile, 0o755);
  const manifest = manifestOf(Object.keys(result.metafile!.inputs), program.outfile);
  // Written last: a bundle without its manifest is never taken for a current one.
  writeFileSync(`${program.outfile}.inputs.json`, `${JSON.stringify(manifest)}\n`);
  return { outfile: program.outfile, bytes: statSync(program.outfile).size, inputs: manifest.inputs.length, ms: Math.round(performance.now() - started) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const names = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
  const unknown = names.filter((name) => !(name in PROGRAMS));
  if (unknown.length > 0) {
    console.error(`build: unknown program ${unknown.join(', ')} (one of ${Object.keys(PROGRAMS).join(', ')})`);
    process.exit(2);
  }
  const ifStale = process.argv.includes('--if-stale');
  for (const name of names.length > 0 ? names : Object.keys(PROGRAMS)) {
    const program = PROGRAMS[name as Program['name']];
    if (ifStale && bundleIsCurrent(program.outfile)) {
      console.log(`${relative(REPO, program.outfile)}: current`);
      continue;
    }
    const built = await buildProgram(program);
    console.log(`${relative(REPO, built.outfile)}: ${(built.bytes / 1024).toFixed(0)} KiB from ${built.inputs} sources in ${built.ms} ms`);
  }
}
