import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ipmiBmcFixtures, waitForState } from '../testing/ipmi-bmc.js';
import { PtyClient } from '../testing/pty.js';
import { run } from '../testing/run.js';

// FreeIPMI (Debian freeipmi-tools) against the simulated BMC: ipmipower for
// power, ipmiconsole for SOL, and the library-based tools (bmc-info,
// ipmi-sensors, ipmi-sel) with their defaults, which means IPMI v1.5 (-D LAN).
// No workaround flags (-W) are needed.

const { bmcWithPort, clients } = ipmiBmcFixtures();

const ipmipower = (port: number, ...args: string[]) => run('ipmipower', ['-h', `127.0.0.1:${port}`, '-u', 'admin', '-p', 'adminpass', '--session-timeout=5000', '--retransmission-timeout=500', ...args]);

describe('ipmipower', () => {
  it.each([
    ['LAN_2_0', '3'],
    ['LAN_2_0', '17'],
    ['LAN', undefined],
  ])('reports and switches power over %s (suite %s)', async (driver, suite) => {
    const { bmc, port } = await bmcWithPort();
    const options = ['-D', driver, ...(suite ? ['-I', suite] : [])];
    expect((await ipmipower(port, ...options, '--stat')).stdout).toBe('127.0.0.1: on\n');
    expect((await ipmipower(port, ...options, '--off')).stdout).toBe('127.0.0.1: ok\n');
    expect(bmc.host.powerState).toBe('off');
    expect((await ipmipower(port, ...options, '--stat')).stdout).toBe('127.0.0.1: off\n');
    expect((await ipmipower(port, ...options, '--on')).stdout).toBe('127.0.0.1: ok\n');
    expect(bmc.host.poweredOn).toBe(true);
  });
});

// The library tools keep an SDR cache per host; a fresh directory per test keeps them honest.
const freeipmiTool = async (tool: string, port: number, ...args: string[]) => {
  const cache = await mkdtemp(join(tmpdir(), 'freeipmi-sdr-'));
  const sdrCache = tool === 'bmc-info' ? [] : [`--sdr-cache-directory=${cache}`];
  try {
    return await run(tool, ['-h', `127.0.0.1:${port}`, '-u', 'admin', '-p', 'adminpass', '--session-timeout=5000', '--retransmission-timeout=500', ...sdrCache, ...args]);
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
};

describe('FreeIPMI library tools with their default driver (IPMI v1.5)', () => {
  it('bmc-info reads the device, its manufacturer and the session', async () => {
    const { port } = await bmcWithPort();
    const result = await freeipmiTool('bmc-info', port);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^IPMI Version\s+: 2\.0$/m);
    // IANA 32473 is the enterprise number reserved for documentation and examples (RFC 5612): no real vendor.
    expect(result.stdout).toMatch(/^Manufacturer ID\s+: .*\(32473\)$/m);
    expect(result.stdout.match(/^Channel Number\s+: 1$/gm)).toHaveLength(1);
  });

  it('ipmitool session info reads this session back (Get Session Info)', async () => {
    const { port } = await bmcWithPort();
    const result = await run('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', 'admin', '-P', 'adminpass', 'session', 'info', 'active']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^privilege level\s+: ADMINISTRATOR$/m);
    expect(result.stdout).toMatch(/^session type\s+: IPMIv2\/RMCP\+$/m);
    expect(result.stdout).toMatch(/^console ip\s+: 127\.0\.0\.1$/m);
  });

  it('ipmi-sensors reads every sensor', async () => {
    const { port } = await bmcWithPort();
    const result = await freeipmiTool('ipmi-sensors', port);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/CPU Temp\s+\| Temperature\s+\| \d+\.\d+\s+\| C/);
    expect(result.stdout).toMatch(/Fan1\s+\| Fan/);
  });

  it('ipmi-sel names the sensors of every entry from the SDR', async () => {
    const { bmc, port } = await bmcWithPort();
    bmc.host.powerOff();
    await waitForState(bmc.host, 'off');
    const result = await freeipmiTool('ipmi-sel', port);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/\| Power Unit\s+\| Power Unit\s+\| Power Off\/Power Down/);
    expect(result.stdout).toMatch(/\| ACPI State\s+\| System ACPI Power State\s+\| S0\/G0/);
    expect(result.stdout).not.toMatch(/Sensor #\d+/);
  });
});

describe('ipmiconsole', () => {
  it.each(['3', '17'])('carries SOL both ways with cipher suite %s', async (suite) => {
    const { bmc, port } = await bmcWithPort();
    const client = new PtyClient('ipmiconsole', ['-h', `127.0.0.1:${port}`, '-u', 'admin', '-p', 'adminpass', '-I', suite]);
    clients.push(client);
    await client.waitFor((text) => text.includes('[SOL established]'), 10_000, 'SOL established');
    client.write('\r');
    await client.waitFor((text) => text.endsWith('sim-01 login: '), 10_000, 'login prompt');
    const mark = client.text.length;
    client.write('root\recho freeipmi\r');
    await client.waitFor((text) => text.endsWith('freeipmi\r\nroot@sim-01:~# '), 10_000, 'echo');
    expect(client.text.slice(mark)).toBe("root\r\nWelcome to sim-01 (bmcsim simulated host). Type 'help'.\r\nroot@sim-01:~# echo freeipmi\r\nfreeipmi\r\nroot@sim-01:~# ");
    // A power cycle's boot log reaches the open SOL session.
    bmc.host.reset();
    await waitForState(bmc.host, 'running');
    await client.waitFor((text) => text.includes('Booting from disk\r\n'), 10_000, 'boot log');
    client.write('&.');
    expect(await client.exited()).toBe(0);
  });

  it('tells the old owner when another session takes SOL over ("SOL deactivating")', async () => {
    const { port } = await bmcWithPort();
    const args = ['-h', `127.0.0.1:${port}`, '-u', 'admin', '-p', 'adminpass', '-I', '17'];
    const victim = new PtyClient('ipmiconsole', args);
    clients.push(victim);
    await victim.waitFor((text) => text.includes('[SOL established]'), 10_000, 'victim established');
    const thief = new PtyClient('ipmiconsole', args);
    clients.push(thief);
    await thief.waitFor((text) => text.includes('[SOL established]'), 10_000, 'thief established');
    await victim.waitFor((text) => text.includes('[SOL session stolen]'), 10_000, 'victim told');
    expect(await victim.exited()).toBe(0);
    thief.write('&.');
    expect(await thief.exited()).toBe(0);
  });

  it('steals SOL from another session (the "held by another session" fault), which ipmitool refuses', async () => {
    const { port } = await bmcWithPort({ solHeldByOtherSession: true });
    const refused = await run('script', ['-qfec', `ipmitool -I lanplus -H 127.0.0.1 -p ${port} -U admin -P adminpass -C 17 sol activate`, '/dev/null'], { timeoutMs: 15_000 });
    expect(refused.stdout + refused.stderr).toMatch(/SOL payload already active on another session/);
    const client = new PtyClient('ipmiconsole', ['-h', `127.0.0.1:${port}`, '-u', 'admin', '-p', 'adminpass', '-I', '17']);
    clients.push(client);
    await client.waitFor((text) => text.includes('[SOL established]'), 10_000, 'SOL established after stealing');
    client.write('&.');
    expect(await client.exited()).toBe(0);
  });
});
