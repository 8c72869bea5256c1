import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort, startIpmiSim, type IpmiSimLab } from '@lightsout/lab';
import type { BootOverride, PowerResult, SelList, SensorList, ServerList } from '@lightsout/shared';
import { eventually, REPO_ROOT, TrackedProcess } from '../src/testing/processes.js';
import { cli, loginThroughDeviceFlow, startAgentProcess, startRelayProcess } from '../src/testing/stack.js';

/**
 * The BMC surfaces end to end: the real CLI → the real relay → the real
 * agent → OpenIPMI's ipmi_sim (a third-party BMC), all as separate processes.
 */
const PASSWORD = 'bmc-e2e-password';
const root = mkdtempSync(join(tmpdir(), 'lightsout-bmc-e2e-'));
const cliEnv = { LIGHTSOUT_CONFIG_DIR: join(root, 'cli-config') };
const processes: TrackedProcess[] = [];
let sim: IpmiSimLab | undefined;

async function json<T>(args: string[]): Promise<T> {
  const result = await cli([...args, '--json'], cliEnv);
  if (result.code !== 0) throw new Error(`lightsout ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

beforeAll(async () => {
  sim = await startIpmiSim({ powered: true });
  const port = await freeTcpPort();
  const relayUrl = `http://127.0.0.1:${port}`;
  processes.push(await startRelayProcess({ port, dataDir: join(root, 'relay-data'), heartbeatIntervalMs: 1000, password: PASSWORD, configDir: root }));
  await loginThroughDeviceFlow(relayUrl, cliEnv, 'admin', PASSWORD);
  const { token } = await json<{ token: string }>(['agents', 'token', 'create', '--region', 'lab', '--datacenter', 'sim1', '--tenant', 'demo']);
  const config = join(root, 'agent.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      relay: relayUrl,
      name: 'sim1-agent',
      stateDir: join(root, 'agent-state'),
      log: { level: 'warn' },
      poll: { intervalMs: 1000, concurrency: 4 },
      credentials: [{ id: 'sim', username: sim.admin.name, passwordEnv: 'SIM_BMC_PASSWORD' }],
      servers: [
        { id: 'sim-01', name: 'ipmi_sim', tenant: 'demo', rack: 'lab', ipmi: { host: sim.host, port: sim.port, credentials: 'sim', cipherSuite: 3 } },
        { id: 'vnc-only', name: 'no driver', tenant: 'demo', rack: 'lab', vnc: { url: 'vnc://127.0.0.1:5999' } },
      ],
    }),
  );
  processes.push(startAgentProcess(config, { SIM_BMC_PASSWORD: sim.admin.password, LIGHTSOUT_JOIN_TOKEN: token }));
  await eventually('sim-01 online', 30_000, async () => {
    const list = await json<ServerList>(['servers', 'list']);
    return list.servers.find((server) => server.id === 'sim-01' && server.agent === 'online');
  });
}, 180_000);

afterAll(async () => {
  for (const process of processes.reverse()) await process.kill('SIGKILL');
  await sim?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('CLI → relay → agent → ipmi_sim', () => {
  it('reads and changes power, and the polled state reaches `servers list`', async () => {
    expect(await json<PowerResult>(['power', 'status', 'sim-01'])).toEqual({ power: 'on' });
    expect(await json<PowerResult>(['power', 'off', 'sim-01'])).toHaveProperty('power');
    await eventually('power off observed', 30_000, async () => ((await json<PowerResult>(['power', 'status', 'sim-01'])).power === 'off' ? true : undefined));
    await eventually('servers list shows power off', 15_000, async () => {
      const list = await json<ServerList>(['servers', 'list']);
      return list.servers.find((server) => server.id === 'sim-01')?.power === 'off' ? true : undefined;
    });
    await json<PowerResult>(['power', 'on', 'sim-01']);
    await eventually('power on observed', 30_000, async () => ((await json<PowerResult>(['power', 'status', 'sim-01'])).power === 'on' ? true : undefined));
  }, 120_000);

  it('sets a boot override and reads it back', async () => {
    expect(await json<BootOverride>(['boot', 'pxe', 'sim-01', '--persistent'])).toMatchObject({ device: 'pxe', persistent: true });
    expect(await json<BootOverride>(['boot', 'status', 'sim-01'])).toMatchObject({ device: 'pxe', persistent: true });
  }, 60_000);

  it('lists sensors and the event log', async () => {
    const { sensors } = await json<SensorList>(['sensors', 'sim-01']);
    expect(sensors.length).toBeGreaterThan(0);
    const { entries } = await json<SelList>(['sel', 'sim-01']);
    expect(Array.isArray(entries)).toBe(true);
    const table = await cli(['sensors', 'sim-01'], cliEnv);
    expect(table.stdout).toMatch(/^NAME\s+TYPE\s+VALUE\s+UNIT\s+STATUS\n/);
  }, 60_000);

  it('SOL held by ipmitool: BMC_BUSY with the --takeover hint; --takeover ends ipmitool\'s SOL, echoes byte-exact and is audited', async () => {
    const lab = sim!;
    lab.uart.setShell(true);
    // ipmitool needs a terminal for `sol activate`; util-linux `script` gives it one.
    const ipmitool = new TrackedProcess('ipmitool sol activate', 'script', ['-qfec', `ipmitool -I lanplus -H ${lab.host} -p ${lab.port} -U ${lab.admin.name} -P ${lab.admin.password} -C 3 sol activate`, '/dev/null'], process.env, { stdin: 'pipe' });
    processes.push(ipmitool);
    try {
      await ipmitool.waitForOutput(/SOL Session operational/, 20_000);
      ipmitool.child.stdin!.write('echo held by ipmitool\r');
      await ipmitool.waitForOutput(/echo held by ipmitool\r\n/, 10_000);

      const refused = await cli(['console', 'sim-01'], cliEnv);
      expect(refused.code).toBe(5);
      expect(refused.stderr).toMatch(/^error BMC_BUSY: .*SOL is already active on another session/m);
      expect(refused.stderr).toMatch(/^hint: .*lightsout console sim-01 --takeover/m);

      lab.uart.clearReceived();
      const taking = new TrackedProcess('lightsout console --takeover', process.execPath, [join(REPO_ROOT, 'cli/bin/lightsout.js'), 'console', 'sim-01', '--takeover'], { ...process.env, LIGHTSOUT_TOKEN: '', LIGHTSOUT_RELAY: '', ...cliEnv }, { stdin: 'pipe' });
      processes.push(taking);
      await taking.waitForOutput(/~\. to leave/, 20_000);
      taking.child.stdin!.write('echo taken over\r');
      await eventually('the echo through the console that took SOL over', 20_000, async () => (taking.stdout.includes('echo taken over\r\n') ? true : undefined));

      // ipmitool's SOL is over at the BMC: the next thing it sends is refused and it exits.
      ipmitool.child.stdin!.write('typed into ipmitool\r');
      await ipmitool.waitForOutput(/SOL session closed by BMC/, 20_000);
      expect((await ipmitool.exited).code).not.toBe(0);
      taking.child.stdin!.write('~.');
      expect((await taking.exited).code).toBe(0);
      // Byte-exact both ways: our console saw exactly its own echo, and nothing of ipmitool's reached the host after the takeover.
      expect(taking.stdout).toBe('echo taken over\r\n');
      expect(Buffer.from(lab.uart.received()).toString('latin1')).toBe('echo taken over\r');

      const audit = await cli(['audit', 'export'], cliEnv);
      const records = audit.stdout.trim().split('\n').map((line) => JSON.parse(line) as { action: string; target?: string; details?: Record<string, unknown> });
      expect(records.filter((record) => record.action === 'session.open' && record.target === 'server:sim-01' && record.details?.['takeover'] === true)).toHaveLength(1);
      expect(records.filter((record) => record.action === 'sol.takeover' && record.target === 'server:sim-01')).toHaveLength(1);
    } finally {
      lab.uart.setShell(false);
      await ipmitool.kill('SIGKILL');
    }
  }, 120_000);

  it('exits 4 for an unknown server and 5 for a server without a driver', async () => {
    const unknown = await cli(['power', 'status', 'nope-01'], cliEnv);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/^error NOT_FOUND: /);
    const unsupported = await cli(['power', 'status', 'vnc-only'], cliEnv);
    expect(unsupported.code).toBe(5);
    expect(unsupported.stderr).toMatch(/^error BMC_UNSUPPORTED: /);
  }, 60_000);
});
