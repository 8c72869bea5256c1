import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freeTcpPortRun, postgresInstalled } from '@lightsout/lab';
import { scratchDirectories } from '@lightsout/lab/scratch';
import { afterEach, describe, expect, it } from 'vitest';
import { loginWithPassword } from '@lightsout/relay/testing';
import { ChildProcessHandle, REPO_ROOT, eventually } from '../lib/processes.js';
import { processesNaming } from '../lib/proc.js';

/**
 * `scripts/demo.sh --topology regional`: PostgreSQL, a manager, three gateways in two regions and two
 * agents come up; logged in at the manager, the servers of both regions are
 * listed online and answer power status through the manager (which holds no
 * agent: the request is routed to the gateway that does); a killed demo
 * leaves no process behind.
 */
const scratch = scratchDirectories('lightsout-demo-regional-');
afterEach(scratch.removeAll);
const started: ChildProcessHandle[] = [];
afterEach(async () => {
  for (const child of started.splice(0)) await child.kill('SIGKILL');
});


describe('scripts/demo.sh --topology regional', () => {
  it('comes up; a server of each region answers power status through the manager', { timeout: 300_000 }, async () => {
    expect(postgresInstalled(), 'PostgreSQL must be installed (scripts/lab-packages.txt)').toBe(true);
    const dataDir = scratch.make();
    // The manager on `port`, its three gateways on the next three.
    const port = await freeTcpPortRun(4);
    // What `scripts/demo.sh --topology regional` execs once the dependencies and the web console are built.
    const demo = new ChildProcessHandle('demo-regional', process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts/demo-regional.ts'), '--topology', 'regional', '--port', String(port), '--data-dir', dataDir, '--count', '2'], { ...process.env });
    started.push(demo);
    await demo.waitForOutput(/Lightsout demo is running/, 240_000);
    const managerUrl = `http://127.0.0.1:${port}`;
    expect(demo.stdout).toContain(`web console   ${managerUrl}/`);
    expect(demo.stdout).toMatch(/tenant operator {2}user operator {3}password \S+/);

    const password = readFileSync(join(dataDir, 'demo-password'), 'utf8').trim();
    const token = (await loginWithPassword(managerUrl, 'operator', password)).accessToken;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    let servers: { id: string; agent: string }[] = [];
    await eventually('the servers of both regions online at the manager', 60_000, async () => {
      const body = (await (await fetch(`${managerUrl}/v1/servers`, { headers })).json()) as { servers: { id: string; agent: string }[] };
      servers = body.servers;
      const online = (prefix: string) => servers.filter((server) => server.id.startsWith(prefix) && server.agent === 'online').length;
      return online('fra1-') === 2 && online('nyc1-') === 2 ? true : undefined;
    });
    for (const id of ['fra1-01', 'nyc1-01']) {
      const response = await fetch(`${managerUrl}/v1/servers/${id}/power`, { method: 'POST', headers, body: JSON.stringify({ action: 'status' }) });
      const body = (await response.json()) as { power?: string };
      expect(response.status, `${id}: ${JSON.stringify(body)}`).toBe(200);
      expect(body.power).toBe('on');
    }

    await demo.kill('SIGKILL');
    let remaining = processesNaming(dataDir);
    await eventually('the demo children to exit', 60_000, async () => {
      remaining = processesNaming(dataDir);
      return remaining.length === 0 ? true : undefined;
    }).catch(() => undefined);
    expect(remaining).toEqual([]);
  });
});
