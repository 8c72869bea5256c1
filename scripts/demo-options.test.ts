import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** Runs a demo entry point with `args`; a refused command line exits before anything is started. */
function demo(script: string, args: string[]): { status: number | null; stderr: string; stdout: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(script, import.meta.url)), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

describe('the demos refuse a bad command line in one line, exit 2', () => {
  it('names an unknown option and the usage, without a stack trace', () => {
    const result = demo('./demo.ts', ['--topolgy', 'regional']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("demo: Unknown option '--topolgy'");
    expect(result.stderr).toContain('usage: scripts/demo.sh [--count N]');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe('');
  });

  it('names an option given without its value', () => {
    const result = demo('./demo-regional.ts', ['--port']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^demo: Option '--port <value>' argument missing\nusage: scripts\/demo\.sh --topology regional/);
  });

  it('takes --fresh in the regional demo too (every regional run is fresh): the next check is what refuses', () => {
    const result = demo('./demo-regional.ts', ['--fresh', '--topology', 'ring']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('unknown topology "ring"');
  });
});
