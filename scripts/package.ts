/**
 * What a datacenter host installs:
 *
 * - the agent as ONE executable file: the compiled agent (CommonJS, every
 *   dependency inside) injected into a copy of this Node binary as a single
 *   executable application (Node's SEA, `postject`). Nothing else is needed
 *   on the host, not even Node.
 * - the relay as a runnable directory: its own Node binary, the compiled
 *   relay, the few packages that cannot be bundled (native addons, files read
 *   at run time) in node_modules beside it, and the built web console.
 * - a Debian package of each (dpkg-deb): program, systemd unit(s), example
 *   configuration, a dedicated system user made on install.
 *
 *   npm run package [-- --out build/packages]
 *
 * docs/operations.md says how to install and upgrade them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { NATIVE_EXTERNALS, PROGRAMS, REPO, bundleOptions, buildProgram } from './build.js';

const require = createRequire(import.meta.url);
const PACKAGING = join(REPO, 'packaging');
/** Where Node's single executable application blob goes (node/src/node_sea.cc; the fuse makes the binary look for it). */
const SEA_RESOURCE = 'NODE_SEA_BLOB';
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const WEB_ROOT = join(REPO, 'desktop/out/web');

const version = (workspace: string) => (JSON.parse(readFileSync(join(REPO, workspace, 'package.json'), 'utf8')) as { version: string }).version;

/** The agent as one executable file at `outfile`. */
export async function buildAgentExecutable(outfile: string): Promise<{ path: string; bytes: number }> {
  const work = `${outfile}.work`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const script = join(work, 'lightsout-agent.cjs');
  // A single executable runs one CommonJS script (Node 22): everything inside, the optional native addons left out (ws falls back to JavaScript).
  await build({ ...bundleOptions(PROGRAMS.agent), format: 'cjs', outfile: script, sourcemap: false });
  const blob = join(work, 'sea.blob');
  writeFileSync(join(work, 'sea-config.json'), JSON.stringify({ main: script, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, execArgv: PROGRAMS.agent.nodeFlags }));
  // The code cache carries a hash of V8's flags and is rejected under others: make it under the ones the executable runs with.
  execFileSync(process.execPath, [...PROGRAMS.agent.nodeFlags, '--experimental-sea-config', join(work, 'sea-config.json')], { stdio: 'pipe' });
  rmSync(outfile, { force: true });
  copyFileSync(process.execPath, outfile);
  const { inject } = require('postject') as { inject: (file: string, name: string, data: Buffer, options: { sentinelFuse: string }) => Promise<void> };
  // postject's ELF reader warns about every note section without a name in Node's binary: harmless, and not ours to fix.
  const warn = console.warn;
  console.warn = (...args: unknown[]) => (/Can't find string offset for section name/.test(String(args[0])) ? undefined : warn(...args));
  try {
    await inject(outfile, SEA_RESOURCE, readFileSync(blob), { sentinelFuse: SEA_FUSE });
  } finally {
    console.warn = warn;
  }
  chmodSync(outfile, 0o755);
  rmSync(work, { recursive: true, force: true });
  return { path: outfile, bytes: statSync(outfile).size };
}

/** A package's folder in node_modules as Node would find it from `from`. */
function packageDir(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Build leftovers and other platforms' prebuilt addons: not needed to run on linux-x64. */
function wanted(source: string): boolean {
  const parts = source.split('/');
  const name = basename(source);
  if (parts.includes('obj.target') || parts.includes('.deps') || name.endsWith('.mk') || name === 'Makefile' || name === 'binding.gyp') return false;
  const prebuilds = parts.lastIndexOf('prebuilds');
  if (prebuilds >= 0 && parts.length > prebuilds + 1 && !parts[prebuilds + 1]!.startsWith('linux-x64')) return false;
  // A native package's C/C++ sources (better-sqlite3 ships all of SQLite's): its built addon is what runs.
  if ((name === 'deps' || name === 'src') && existsSync(join(dirname(source), 'binding.gyp'))) return false;
  return true;
}

/**
 * Copies `names` and everything they depend on (dependencies and the optional
 * ones that are installed) into `target/node_modules`, flat.
 */
/** Headers for compiling addons, needed only at install time. */
const BUILD_ONLY = new Set(['nan', 'node-addon-api', 'buildcheck']);

function copyPackages(names: string[], from: string, target: string): string[] {
  const copied = new Map<string, string>();
  const queue = names.map((name) => ({ name, from }));
  while (queue.length > 0) {
    const { name, from: base } = queue.shift()!;
    if (copied.has(name) || BUILD_ONLY.has(name)) continue;
    const dir = packageDir(name, base);
    if (dir === undefined) continue; // an optional package that is not installed (utf-8-validate, pg-native, cpu-features)
    copied.set(name, dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    for (const dependency of Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies })) queue.push({ name: dependency, from: dir });
  }
  for (const [name, dir] of copied) cpSync(dir, join(target, 'node_modules', name), { recursive: true, dereference: true, filter: wanted });
  return [...copied.keys()].sort();
}

/** The relay as a directory: `bin/lightsout-relay`, `node`, `lib/` (bundle + node_modules), `web/`. */
export async function buildRelayDirectory(dir: string, options: { webRoot?: string } = {}): Promise<{ path: string; bytes: number; packages: string[] }> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'bin'), { recursive: true });
  const lib = join(dir, 'lib');
  // The web console sits at ../web from the compiled file in this layout.
  await buildProgram({ ...PROGRAMS.relay, outfile: join(lib, 'lightsout-relay.mjs'), webRoot: '../web' });
  rmSync(join(lib, 'lightsout-relay.mjs.inputs.json'));
  const packages = copyPackages(PROGRAMS.relay.external, join(REPO, 'relay'), lib);
  copyFileSync(process.execPath, join(dir, 'node'));
  chmodSync(join(dir, 'node'), 0o755);
  const webRoot = options.webRoot ?? ensureWebConsole();
  cpSync(webRoot, join(dir, 'web'), { recursive: true });
  writeFileSync(
    join(dir, 'bin/lightsout-relay'),
    [
      '#!/bin/sh',
      '# The relay with the Node it was built and tested with, wherever this directory is,',
      "# and the servers' malloc settings before any the caller gives (scripts/lib/server-node-flags.js).",
      'here=$(dirname "$(readlink -f "$0")")',
      `GLIBC_TUNABLES="${PROGRAMS.relay.mallocTunables ?? ''}\${GLIBC_TUNABLES:+:$GLIBC_TUNABLES}"`,
      'export GLIBC_TUNABLES',
      `exec "$here/../node" ${PROGRAMS.relay.nodeFlags.join(' ')} "$here/../lib/lightsout-relay.mjs" "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return { path: dir, bytes: sizeOf(dir), packages };
}

/** desktop/out/web, built first when missing. */
function ensureWebConsole(): string {
  if (!existsSync(join(WEB_ROOT, 'index.html'))) execFileSync('npm', ['run', '--silent', 'build:web', '-w', '@lightsout/desktop'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  return WEB_ROOT;
}

export function sizeOf(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((total, entry) => total + sizeOf(join(path, entry)), 0);
}

interface DebSpec {
  name: 'lightsout-relay' | 'lightsout-agent';
  version: string;
  description: string;
  /** Files under the package root: absolute source paths (directories copied whole) or text. */
  files: Record<string, { from: string; mode?: number } | { text: string; mode?: number } | { symlink: string }>;
  conffiles: string[];
}

/** A .deb from `spec` in `outDir`, with its maintainer scripts from packaging/debian/. */
export function buildDeb(spec: DebSpec, outDir: string): string {
  const root = join(outDir, `${spec.name}.root`);
  rmSync(root, { recursive: true, force: true });
  for (const [path, source] of Object.entries(spec.files)) {
    const target = join(root, path);
    mkdirSync(dirname(target), { recursive: true });
    if ('symlink' in source) symlinkSync(source.symlink, target);
    else if ('from' in source) cpSync(source.from, target, { recursive: true });
    else writeFileSync(target, source.text);
    if (!('symlink' in source) && source.mode !== undefined) chmodSync(target, source.mode);
  }
  const control = join(root, 'DEBIAN');
  mkdirSync(control, { recursive: true });
  const installedKiB = Math.ceil(sizeOf(root) / 1024);
  writeFileSync(
    join(control, 'control'),
    [
      `Package: ${spec.name}`,
      `Version: ${spec.version}`,
      'Architecture: amd64',
      'Maintainer: Lightsout <ops@lightsout.example>',
      `Installed-Size: ${installedKiB}`,
      'Section: net',
      'Priority: optional',
      'Homepage: https://github.com/lightsout/lightsout',
      // adduser makes the system user; nothing else: Node and every library are inside.
      'Depends: adduser, libc6 (>= 2.28)',
      `Description: ${spec.description}`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(control, 'conffiles'), `${spec.conffiles.join('\n')}\n`);
  for (const script of ['postinst', 'prerm', 'postrm']) {
    const text = readFileSync(join(PACKAGING, 'debian', script), 'utf8').replaceAll('@PACKAGE@', spec.name).replaceAll('@CONFFILES@', spec.conffiles.join(' '));
    writeFileSync(join(control, script), text, { mode: 0o755 });
  }
  const deb = join(outDir, `${spec.name}_${spec.version}_amd64.deb`);
  // zstd level 3: about as small as gzip -9 at a fraction of xz's minutes for two ~120 MB Node binaries.
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zzstd', '-z3', '--build', root, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
  rmSync(root, { recursive: true, force: true });
  return deb;
}

export interface Packages {
  agent: { executable: string; bytes: number; deb: string; debBytes: number };
  relay: { directory: string; bytes: number; packages: string[]; deb: string; debBytes: number };
}

/** Everything: the agent executable, the relay directory and both .deb files in `outDir`. */
export async function buildPackages(outDir: string, options: { webRoot?: string } = {}): Promise<Packages> {
  mkdirSync(outDir, { recursive: true });
  const unit = (name: string) => ({ from: join(PACKAGING, 'systemd', name) });
  const agent = await buildAgentExecutable(join(outDir, 'lightsout-agent'));
  const agentDeb = buildDeb(
    {
      name: 'lightsout-agent',
      version: version('agent'),
      description: 'Lightsout agent: one per datacenter, outbound only\n It speaks IPMI, Redfish and RFB to the BMCs and connects out to the Lightsout relay.\n One executable file with Node inside, a hardened systemd unit.',
      files: {
        'usr/bin/lightsout-agent': { from: agent.path, mode: 0o755 },
        'lib/systemd/system/lightsout-agent.service': unit('lightsout-agent.service'),
        'etc/lightsout/agent.yaml': { from: join(PACKAGING, 'agent.yaml'), mode: 0o640 },
        'usr/share/doc/lightsout-agent/README.md': { from: join(REPO, 'agent/README.md') },
      },
      conffiles: ['/etc/lightsout/agent.yaml'],
    },
    outDir,
  );
  const relay = await buildRelayDirectory(join(outDir, 'lightsout-relay'), options);
  const relayDeb = buildDeb(
    {
      name: 'lightsout-relay',
      version: version('relay'),
      description: 'Lightsout relay: identity, tenants, RBAC, inventory, audit, stream gateway\n One systemd instance per role (all, manager, gateway), its own Node inside,\n the web console included.',
      files: {
        'usr/lib/lightsout-relay': { from: relay.path },
        'usr/bin/lightsout-relay': { symlink: '../lib/lightsout-relay/bin/lightsout-relay' },
        'lib/systemd/system/lightsout-relay@.service': unit('lightsout-relay@.service'),
        'etc/lightsout/relay-all.yaml': { from: join(PACKAGING, 'relay-all.yaml'), mode: 0o640 },
        'usr/share/doc/lightsout-relay/examples/relay-manager.yaml': { from: join(PACKAGING, 'relay-manager.yaml') },
        'usr/share/doc/lightsout-relay/examples/relay-gateway.yaml': { from: join(PACKAGING, 'relay-gateway.yaml') },
        'usr/share/doc/lightsout-relay/README.md': { from: join(REPO, 'relay/README.md') },
      },
      conffiles: ['/etc/lightsout/relay-all.yaml'],
    },
    outDir,
  );
  return {
    agent: { executable: agent.path, bytes: agent.bytes, deb: agentDeb, debBytes: statSync(agentDeb).size },
    relay: { directory: relay.path, bytes: relay.bytes, packages: relay.packages, deb: relayDeb, debBytes: statSync(relayDeb).size },
  };
}

/** `systemd-analyze verify` of the units as installed under `root` (its output: empty when clean). */
export function verifyUnits(root: string, units: string[]): { status: number | null; output: string } {
  // Offline, the units' dependencies (sysinit.target, network-online.target …) must be found under the root as well.
  cpSync('/lib/systemd/system', join(root, 'lib/systemd/system'), { recursive: true, force: false, errorOnExist: false });
  const result = spawnSync('systemd-analyze', ['verify', `--root=${root}`, ...units], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const index = process.argv.indexOf('--out');
  const outDir = resolve(index >= 0 ? process.argv[index + 1]! : join(REPO, 'build/packages'));
  const started = performance.now();
  const built = await buildPackages(outDir);
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  console.log(`${relative(REPO, built.agent.executable)}: ${mib(built.agent.bytes)} (one file)`);
  console.log(`${relative(REPO, built.relay.directory)}/: ${mib(built.relay.bytes)} (node, lib/ with ${built.relay.packages.length} packages beside the bundle: ${built.relay.packages.join(', ')}; web/)`);
  console.log(`${relative(REPO, built.agent.deb)}: ${mib(built.agent.debBytes)}`);
  console.log(`${relative(REPO, built.relay.deb)}: ${mib(built.relay.debBytes)}`);
  console.log(`in ${((performance.now() - started) / 1000).toFixed(1)} s; native addons kept outside the bundles: ${NATIVE_EXTERNALS.join(', ')}`);
}
