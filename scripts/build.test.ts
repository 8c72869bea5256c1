import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROGRAMS, REPO, buildProgram, shebangOf } from './build.js';
import { SERVER_MALLOC_TUNABLES, SERVER_NODE_FLAGS, serverEnv } from './lib/server-node-flags.js';
import { bundleIsCurrent } from './lib/start-program.js';

const directory = mkdtempSync(join(tmpdir(), 'lightsout-build-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const startProgramUrl = new URL('./lib/start-program.js', import.meta.url).href;

/** A program laid out as the packages are: bin/, src/ and dist/ with a manifest naming one source. */
function fakeProgram(name: string): { root: string; source: string; run: (env?: NodeJS.ProcessEnv) => string } {
  const root = join(directory, name);
  for (const folder of ['bin', 'src', 'dist']) mkdirSync(join(root, folder), { recursive: true });
  const source = join(root, 'src/main.ts');
  writeFileSync(source, "export async function main(argv: string[]): Promise<number> { console.log(`source ${argv.join(' ')}`); return 3; }\n");
  writeFileSync(join(root, 'dist/program.mjs'), "console.log('bundle');\n");
  writeFileSync(join(root, 'bin/program.js'), `import { startProgram } from ${JSON.stringify(startProgramUrl)};\nawait startProgram(import.meta.url, '../dist/program.mjs', '../src/main.ts');\n`);
  const { size, mtimeMs } = statSync(source);
  const manifest = { builtAt: new Date().toISOString(), inputs: [{ path: '../src/main.ts', size, mtimeMs }] };
  writeFileSync(join(root, 'dist/program.mjs.inputs.json'), JSON.stringify(manifest));
  return {
    root,
    source,
    run: (env = {}) => {
      const result = spawnSync(process.execPath, [join(root, 'bin/program.js'), 'a', 'b'], { env: { ...process.env, LIGHTSOUT_FROM_SOURCE: '', ...env }, encoding: 'utf8' });
      return `${result.stdout.trim()} exit ${result.status}`;
    },
  };
}

describe('a bin/ file starts the bundle only while it is current', () => {
  it('runs the bundle while every recorded source is unchanged', () => {
    const program = fakeProgram('current');
    expect(bundleIsCurrent(join(program.root, 'dist/program.mjs'))).toBe(true);
    expect(program.run()).toBe('bundle exit 0');
  });

  it('runs the sources through tsx, with their exit code, once a source changed, and when asked to', () => {
    const program = fakeProgram('stale');
    expect(program.run({ LIGHTSOUT_FROM_SOURCE: '1' })).toBe('source a b exit 3');
    utimesSync(program.source, new Date(), new Date(Date.now() + 5_000));
    expect(bundleIsCurrent(join(program.root, 'dist/program.mjs'))).toBe(false);
    expect(program.run()).toBe('source a b exit 3');
  });

  it('is not current without its manifest, or with a recorded source gone', () => {
    const program = fakeProgram('incomplete');
    rmSync(program.source);
    expect(bundleIsCurrent(join(program.root, 'dist/program.mjs'))).toBe(false);
    rmSync(join(program.root, 'dist/program.mjs.inputs.json'));
    expect(bundleIsCurrent(join(program.root, 'dist/program.mjs'))).toBe(false);
  });
});

describe('scripts/build.ts', () => {
  it('compiles bmcsim to one file that runs without tsx, and records its sources', async () => {
    const outfile = join(directory, 'bmcsim/bmcsim.mjs');
    const built = await buildProgram({ ...PROGRAMS.bmcsim, outfile });
    expect(built.inputs).toBeGreaterThan(50);
    expect(bundleIsCurrent(outfile)).toBe(true);
    const help = spawnSync(process.execPath, [outfile, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: bmcsim/);
  }, 60_000);
});

describe("the servers' Node flags and malloc settings", () => {
  const firstLine = `#!/usr/bin/env -S GLIBC_TUNABLES=${SERVER_MALLOC_TUNABLES}:\${GLIBC_TUNABLES} node ${SERVER_NODE_FLAGS.join(' ')}`;

  it('are in the first line of the relay and agent bundles and of their and the CLI\'s bin/ files; bmcsim has none', () => {
    expect(SERVER_NODE_FLAGS).toEqual(['--initial-old-space-size=64']);
    for (const program of [PROGRAMS.relay, PROGRAMS.agent]) expect(shebangOf(program)).toBe(firstLine);
    expect(shebangOf(PROGRAMS.bmcsim)).toBe('#!/usr/bin/env node');
    for (const [bin, program] of [['relay/bin/lightsout-relay.js', PROGRAMS.relay], ['agent/bin/lightsout-agent.js', PROGRAMS.agent]] as const) {
      expect(readFileSync(join(REPO, bin), 'utf8').split('\n')[0]).toBe(shebangOf(program));
    }
    // the CLI's sources start the same way as its bundle (cli/scripts/bundle.ts)
    expect(readFileSync(join(REPO, 'cli/bin/lightsout.js'), 'utf8').split('\n')[0]).toBe(firstLine);
  });

  it('reach node when a bin/ file is run as a program (env -S)', () => {
    const run = spawnSync(join(REPO, 'agent/bin/lightsout-agent.js'), ['--help'], { env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` }, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('usage: lightsout-agent');
  });

  /** The malloc settings glibc's dynamic loader reads from `tunables`, as `--list-tunables` prints them (glibc ≥ 2.33). */
  function tunablesAsRead(tunables: string): Record<string, string> {
    const loader = /\s(\/\S*ld-linux\S*)\s/.exec(spawnSync('ldd', [process.execPath], { encoding: 'utf8' }).stdout)?.[1];
    expect(loader, 'the dynamic loader of node').toBeDefined();
    const listed = spawnSync(loader!, ['--list-tunables'], { env: { GLIBC_TUNABLES: tunables }, encoding: 'utf8' });
    expect(listed.status, listed.stderr).toBe(0);
    return Object.fromEntries([...listed.stdout.matchAll(/^glibc\.malloc\.(\w+): (\S+)/gm)].map((match) => [match[1]!, match[2]!]));
  }

  it('reach glibc from the first line, the operator\'s own GLIBC_TUNABLES after them and winning', () => {
    const program = join(directory, 'print-tunables.mjs');
    writeFileSync(program, `${firstLine}\nprocess.stdout.write(process.env.GLIBC_TUNABLES ?? '(unset)');\n`, { mode: 0o755 });
    const runWith = (extra: NodeJS.ProcessEnv) => {
      const run = spawnSync(program, [], { env: { PATH: `${dirname(process.execPath)}:${process.env.PATH}`, ...extra }, encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      return run.stdout;
    };
    const ours = runWith({});
    expect(ours).toBe(`${SERVER_MALLOC_TUNABLES}:`);
    // 64 MiB and 4 MiB: a misspelt name or value is ignored by glibc without a word, so read them back.
    expect(tunablesAsRead(ours)).toMatchObject({ trim_threshold: '0x4000000', mmap_threshold: '0x400000' });
    const theirs = runWith({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=1000' });
    expect(theirs).toBe(`${SERVER_MALLOC_TUNABLES}:glibc.malloc.trim_threshold=1000`);
    expect(tunablesAsRead(theirs)).toMatchObject({ trim_threshold: '0x3e8', mmap_threshold: '0x400000' });
  });

  it('are what launchers put in a server\'s environment, before the operator\'s and not twice', () => {
    expect(serverEnv({})).toEqual({ GLIBC_TUNABLES: SERVER_MALLOC_TUNABLES });
    expect(serverEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' })).toEqual({ GLIBC_TUNABLES: `${SERVER_MALLOC_TUNABLES}:glibc.malloc.arena_max=2` });
    expect(tunablesAsRead(serverEnv({ GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=65536' }).GLIBC_TUNABLES)).toMatchObject({ trim_threshold: '0x4000000', mmap_threshold: '0x10000' });
  });
});
