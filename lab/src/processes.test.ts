import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { spawnTied } from './processes.js';
import { waitFor } from './wait.js';
import { childPrograms } from './testing/index.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}


describe('spawnTied', () => {
  it('runs the command itself under the pid it reports, with its exit code and output', async () => {
    const child = spawnTied('/bin/sh', ['-c', 'echo "pid $$"; exit 7'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(7);
    // The shim execs in place: the shell's own $$ is the pid spawn() returned.
    expect(output).toBe(`pid ${child.pid}\n`);
  });

  it('a tied child dies when the process that started it is SIGKILLed', async () => {
    const parent = spawn(process.execPath, ['--import', 'tsx', childPrograms.tiedProcess], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(createInterface({ input: parent.stdout! }), 'line')) as [string];
    const { pid } = JSON.parse(line) as { pid: number };
    expect(alive(pid)).toBe(true);
    parent.kill('SIGKILL');
    await once(parent, 'exit');
    // Bounded: the kernel's parent-death SIGTERM is asynchronous. A survivor is killed here, then the test fails.
    const gone = await waitFor(`process ${pid} to end`, () => !alive(pid), { timeoutMs: 10_000, intervalMs: 20 }).catch(() => false);
    if (!gone) process.kill(pid, 'SIGKILL');
    expect(gone).toBe(true);
  });
});
