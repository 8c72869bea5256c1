import { createServer } from 'node:net';
import { join } from 'node:path';
import { freeTcpPort } from '@lightsout/lab';
import { scratchDirectories } from '@lightsout/lab/scratch';
import { afterEach, describe, expect, it } from 'vitest';
import { ChildProcessHandle, REPO_ROOT, eventually, runToCompletion } from '../lib/processes.js';
import { processesNaming } from '../lib/proc.js';

const scratch = scratchDirectories('lightsout-demo-');
afterEach(scratch.removeAll);
const started: ChildProcessHandle[] = [];
afterEach(async () => {
  for (const process of started.splice(0)) await process.kill('SIGKILL');
});


function startDemo(port: number, dataDir: string): ChildProcessHandle {
  const demo = new ChildProcessHandle('demo', process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts/demo.ts'), '--port', String(port), '--ssh-port', '0', '--data-dir', dataDir, '--count', '2'], { ...process.env });
  started.push(demo);
  return demo;
}

describe('scripts/demo.ts', () => {
  it('starts a child that dies again, and a killed demo leaves no process behind', async () => {
    const dataDir = scratch.make();
    const demo = startDemo(await freeTcpPort(), dataDir);
    await demo.waitForOutput(/Lightsout demo is running/, 120_000);

    const agent = processesNaming(join(dataDir, 'agent.yaml')).find((entry) => entry.argv.includes('lightsout-agent'));
    expect(agent).toBeDefined();
    process.kill(agent!.pid, 'SIGKILL');
    await demo.waitForOutput(/agent exited \(SIGKILL\); starting it again/, 30_000);
    await demo.waitForOutput(/agent running again/, 90_000);
    expect(demo.running).toBe(true);

    // The children are tied to the demo: killing it outright takes them with it.
    await demo.kill('SIGKILL');
    // The kernel sends each child SIGTERM; a relay or agent shutting down cleanly on a loaded machine takes a while.
    let remaining = processesNaming(dataDir);
    await eventually('the demo children to exit', 60_000, async () => {
      remaining = processesNaming(dataDir);
      return remaining.length === 0 ? true : undefined;
    }).catch(() => undefined);
    expect(remaining.map((entry) => entry.argv)).toEqual([]);
  }, 240_000);

  it('refuses a port that is taken, and starts nothing', async () => {
    const dataDir = scratch.make();
    const occupant = createServer();
    await new Promise<void>((listening) => occupant.listen(0, '127.0.0.1', listening));
    const { port } = occupant.address() as { port: number };
    try {
      const run = await runToCompletion(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts/demo.ts'), '--port', String(port), '--ssh-port', '0', '--data-dir', dataDir], { ...process.env }, 60_000);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`127.0.0.1:${port} is already in use`);
      expect(processesNaming(dataDir)).toEqual([]);
    } finally {
      occupant.close();
    }
  });
});
