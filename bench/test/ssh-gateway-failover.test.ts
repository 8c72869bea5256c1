import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresForThisFile } from '@lightsout/relay/testing';
import { startSerialWebSocketEcho } from '@lightsout/integration/bmc-peers';
import { type SshKeyFiles, type SshRun, sshKeygen, sshPiped } from '../lib/openssh.js';
import { eventually, until } from '../lib/processes.js';
import { type Stack, startStack } from '../lib/stack.js';

/**
 * kill -9 of the gateway carrying an SSH console, with Debian's OpenSSH
 * client: a manager and two gateways of one region on one PostgreSQL store,
 * each gateway with its SSH front door, and an agent with both gateways in
 * its list. SSH cannot resume, so the connection drops; but the console
 * session on the agent outlives its gateway (the grace period), so a new
 * `ssh` to the gateway the agent failed over to joins the same console and
 * gets its scrollback — the line typed before the kill, which the console
 * (an echoing serial port) does not replay by itself.
 */
const postgres = postgresForThisFile();

describe('ssh across a gateway kill -9 (manager + two gateways, processes, PostgreSQL)', () => {
  let directory: string;
  let echo: Awaited<ReturnType<typeof startSerialWebSocketEcho>>;
  let stack: Stack;
  let key: SshKeyFiles;
  let knownHosts: string;
  const runs = new Set<SshRun>();

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'lightsout-ssh-failover-'));
    echo = await startSerialWebSocketEcho();
    stack = await startStack([{ id: 'web-01', serial: { url: echo.url } }], {
      postgresUrl: postgres().url,
      relays: 3,
      agentRelays: [1, 2],
      roles: [{ role: 'manager' }, { role: 'gateway', region: 'eu-central' }, { role: 'gateway', region: 'eu-central' }],
      // Port 0: each gateway's front door picks its own; GET /v1/ssh/host-key says which.
      relayConfig: { ssh: { port: 0 } },
    });
    key = sshKeygen(directory, 'operator');
    const added = await fetch(`${stack.relayUrl}/v1/me/ssh-keys`, { method: 'POST', headers: { authorization: `Bearer ${stack.operatorToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ publicKey: key.publicKey }) });
    expect(added.status, await added.clone().text()).toBe(201);
    // One host key for the deployment: both gateways present it.
    const hostKeys = await Promise.all([1, 2].map(async (index) => (await (await fetch(`${stack.relayUrls[index]}/v1/ssh/host-key`)).json()) as { publicKey: string; port: number }));
    expect(hostKeys[0]!.publicKey).toBe(hostKeys[1]!.publicKey);
    knownHosts = join(directory, 'known_hosts');
    writeFileSync(knownHosts, hostKeys.map((hostKey) => `[127.0.0.1]:${hostKey.port} ${hostKey.publicKey}\n`).join(''));
  }, 180_000);

  afterAll(async () => {
    for (const run of runs) run.kill();
    await stack?.close();
    await echo?.close();
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
  });

  async function sshPortOf(index: number): Promise<number> {
    return ((await (await fetch(`${stack.relayUrls[index]}/v1/ssh/host-key`)).json()) as { port: number }).port;
  }

  function ssh(port: number): SshRun {
    const run = sshPiped({ port, knownHosts, key }, 'web-01');
    runs.add(run);
    return run;
  }

  it('the SSH connection drops with its gateway; a new ssh to the other gateway rejoins the console with its scrollback', async () => {
    const heldBy = await eventually('the agent on a gateway', 30_000, () => stack.agentHeldBy());
    const holder = stack.relayUrls.indexOf(heldBy);
    expect(holder).toBeGreaterThan(0);
    const other = holder === 1 ? 2 : 1;

    const first = ssh(await sshPortOf(holder));
    await until(() => first.stderr().includes('~. to leave'), 30_000, () => `the console at gateway ${holder}; stderr: ${first.stderr()}`);
    const before = `typed-before-the-kill-${Date.now().toString(36)}`;
    first.write(`${before}\n`);
    await until(() => first.stdout().includes(before), 15_000, () => `the echo; stdout: ${JSON.stringify(first.stdout())}`);

    await stack.killRelay(holder);
    // SSH has no resume: the client is told the connection is gone.
    const status = await first.exited;
    expect(status).not.toBe(0);

    await eventually('the agent on the other gateway', 30_000, async () => ((await stack.agentHeldBy()) === stack.relayUrls[other] ? true : undefined));
    const second = ssh(await sshPortOf(other));
    await until(() => second.stderr().includes('~. to leave'), 30_000, () => `the console at gateway ${other}; stderr: ${second.stderr()}`);
    // The console's scrollback, from the session the killed gateway carried: the agent kept the console open.
    await until(() => second.stdout().includes(before), 15_000, () => `the scrollback; stdout: ${JSON.stringify(second.stdout())}`);
    const after = `typed-after-the-kill-${Date.now().toString(36)}`;
    second.write(`${after}\n`);
    await until(() => second.stdout().includes(after), 15_000, () => `the echo after the failover; stdout: ${JSON.stringify(second.stdout())}`);
    // One console connection at the BMC side throughout: the agent did not open a second one.
    expect(echo.connections()).toBe(1);
    second.child.stdin!.end();
    expect(await second.exited).toBe(0);
  }, 150_000);
});
