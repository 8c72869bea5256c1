import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from '@lightsout/lab';
import { TrackedProcess, eventually } from '@lightsout/lab/tracked-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_MALLOC_TUNABLES, SERVER_NODE_FLAGS } from './lib/server-node-flags.js';
import { type Packages, buildPackages, verifyUnits } from './package.js';

/**
 * The packages as an operator gets them: built (agent executable, relay
 * directory, both .deb), installed with dpkg into a scratch root, the units
 * checked by systemd itself, and the installed programs started with the
 * installed example configuration — the relay serving the web console and
 * the agent enrolling with it and connecting.
 */
const directory = mkdtempSync(join(tmpdir(), 'lightsout-packages-'));
const root = join(directory, 'root');
let packages: Packages;
const processes: TrackedProcess[] = [];

beforeAll(async () => {
  packages = await buildPackages(join(directory, 'out'));
  for (const folder of ['var/lib/dpkg/info', 'var/lib/dpkg/updates']) mkdirSync(join(root, folder), { recursive: true });
  writeFileSync(join(root, 'var/lib/dpkg/status'), '');
  // Maintainer scripts run outside the chroot with DPKG_ROOT set (they then touch nothing of this machine); adduser and libc6 are this machine's.
  const installed = spawnSync('dpkg', [`--root=${root}`, '--force-script-chrootless', '--force-depends', '-i', packages.agent.deb, packages.relay.deb], { encoding: 'utf8' });
  expect(installed.status, installed.stderr).toBe(0);
}, 900_000);

afterAll(async () => {
  await Promise.all(processes.map((process) => process.kill('SIGKILL')));
  rmSync(directory, { recursive: true, force: true });
});

const dpkgQuery = (...args: string[]) => spawnSync('dpkg-query', [`--root=${root}`, ...args], { encoding: 'utf8' }).stdout;

describe('the agent executable', () => {
  it('is one file that runs with nothing else: no Node, no node_modules, an empty environment', () => {
    const help = spawnSync(packages.agent.executable, ['--help'], { env: {}, cwd: directory, encoding: 'utf8' });
    expect(help.stderr).toBe('');
    expect(help.stdout).toBe('usage: lightsout-agent --config <file.yaml>\n');
    expect(help.status).toBe(0);
    const bad = spawnSync(packages.agent.executable, ['--config', join(directory, 'missing.yaml')], { env: {}, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^error CONFIG_INVALID: /);
  });
});

describe('the .deb packages installed into a scratch root', () => {
  it('install the program, the units and the example configuration as conffiles', () => {
    expect(dpkgQuery('-W', '-f', '${Package} ${Status}\n', 'lightsout-agent', 'lightsout-relay')).toBe('lightsout-agent install ok installed\nlightsout-relay install ok installed\n');
    expect(dpkgQuery('-L', 'lightsout-agent').split('\n')).toEqual(expect.arrayContaining(['/usr/bin/lightsout-agent', '/lib/systemd/system/lightsout-agent.service', '/etc/lightsout/agent.yaml']));
    expect(dpkgQuery('-L', 'lightsout-relay').split('\n')).toEqual(
      expect.arrayContaining(['/usr/bin/lightsout-relay', '/usr/lib/lightsout-relay/node', '/usr/lib/lightsout-relay/lib/lightsout-relay.mjs', '/usr/lib/lightsout-relay/lib/node_modules/better-sqlite3/prebuilds/linux-x64.node', '/usr/lib/lightsout-relay/web/index.html', '/lib/systemd/system/lightsout-relay@.service', '/etc/lightsout/relay-all.yaml', '/usr/share/doc/lightsout-relay/examples/relay-gateway.yaml']),
    );
    expect(dpkgQuery('-W', '-f', '${Conffiles}\n', 'lightsout-agent')).toMatch(/^ \/etc\/lightsout\/agent\.yaml [0-9a-f]{32}\n/);
    expect(dpkgQuery('-W', '-f', '${Conffiles}\n', 'lightsout-relay')).toMatch(/^ \/etc\/lightsout\/relay-all\.yaml [0-9a-f]{32}\n/);
    // The same executable as built, byte for byte.
    expect(readFileSync(join(root, 'usr/bin/lightsout-agent')).equals(readFileSync(packages.agent.executable))).toBe(true);
  });

  it('ship units systemd verifies, one relay instance per role, each hardened', () => {
    const units = ['lightsout-agent.service', 'lightsout-relay@all.service', 'lightsout-relay@manager.service', 'lightsout-relay@gateway.service'];
    expect(verifyUnits(root, units)).toEqual({ status: 0, output: '' });
    for (const unit of units) {
      // The exposure score systemd gives the unit's sandbox, in tenths: 25 is "2.5 OK" on its 0–10 scale.
      const security = spawnSync('systemd-analyze', ['security', '--offline=yes', `--root=${root}`, '--threshold=25', unit], { encoding: 'utf8' });
      expect(security.status, `${unit}: ${security.stderr}${security.stdout.trim().split('\n').at(-1)}`).toBe(0);
    }
    const relayUnit = readFileSync(join(root, 'lib/systemd/system/lightsout-relay@.service'), 'utf8');
    for (const line of ['User=lightsout-relay', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'StateDirectory=lightsout-relay/%i', 'RuntimeDirectory=lightsout-relay-%i', 'Restart=on-failure']) expect(relayUnit).toContain(`\n${line}\n`);
  });
});

describe('the installed relay and agent, with the installed example configuration', () => {
  it('start: the relay serves its API and web console, the agent enrolls and holds its control channel', async () => {
    const relayPort = await freeTcpPort();
    const relayUrl = `http://127.0.0.1:${relayPort}`;
    const relayEnv = {
      PATH: process.env.PATH,
      LIGHTSOUT_RELAY__LISTEN__HOST: '127.0.0.1',
      LIGHTSOUT_RELAY__LISTEN__PORT: String(relayPort),
      LIGHTSOUT_RELAY__PUBLIC_URL: relayUrl,
      LIGHTSOUT_RELAY__DATA_DIR: join(directory, 'relay-data'),
      LIGHTSOUT_RELAY__METRICS__PORT: String(await freeTcpPort()),
    };
    const relayConfig = join(root, 'etc/lightsout/relay-all.yaml');
    const relay = new TrackedProcess('installed relay', join(root, 'usr/bin/lightsout-relay'), ['--config', relayConfig], relayEnv);
    processes.push(relay);
    await eventually('the installed relay to be ready', 120_000, async () => ((await fetch(`${relayUrl}/readyz`)).status === 200 ? true : undefined));
    // The launcher hands the servers' Node flags to the packaged node (scripts/lib/server-node-flags.js).
    expect(readFileSync(`/proc/${relay.child.pid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining([...SERVER_NODE_FLAGS]));
    // …and the servers' malloc settings, in its environment: the launcher sets them, as it does the flags.
    // glibc reads the variable in place, cutting it at its first ':' where /proc shows the process's first environment.
    const [firstSetting] = SERVER_MALLOC_TUNABLES.split(':');
    expect(readFileSync(`/proc/${relay.child.pid}/environ`, 'utf8').split('\0').filter((entry) => entry.startsWith(`GLIBC_TUNABLES=${firstSetting}`))).toHaveLength(1);
    const webConsole = await fetch(`${relayUrl}/`);
    expect(webConsole.status).toBe(200);
    expect(await webConsole.text()).toContain('<div id="root">');

    // The documented bootstrap of a real install (no demo accounts): the provider's tenant first, then a join token naming it.
    const tenant = spawnSync(join(root, 'usr/bin/lightsout-relay'), ['tenant', 'create', '--id', 'provider', '--name', 'Provider', '--config', relayConfig], { env: relayEnv, encoding: 'utf8' });
    expect(tenant.status, tenant.stderr).toBe(0);
    const minted = spawnSync(join(root, 'usr/bin/lightsout-relay'), ['join-token', 'create', '--region', 'eu', '--datacenter', 'fra1', '--tenant', 'provider', '--config', relayConfig, '--json'], { env: relayEnv, encoding: 'utf8' });
    expect(minted.status, minted.stderr).toBe(0);
    const joinToken = (JSON.parse(minted.stdout) as { token: string }).token;

    const agentPort = await freeTcpPort();
    const agentConfig = join(directory, 'agent.yaml');
    writeFileSync(
      agentConfig,
      readFileSync(join(root, 'etc/lightsout/agent.yaml'), 'utf8')
        .replace(/^relay: .*$/m, `relay: ${relayUrl}`)
        .replace(/^stateDir: .*$/m, `stateDir: ${join(directory, 'agent-state')}`)
        .replace(/^ {2}listen: 127\.0\.0\.1:9464$/m, `  listen: 127.0.0.1:${agentPort}`),
    );
    const agent = new TrackedProcess('installed agent', join(root, 'usr/bin/lightsout-agent'), ['--config', agentConfig], { LIGHTSOUT_JOIN_TOKEN: joinToken, BMC_LAB_PASSWORD: 'unused' });
    processes.push(agent);
    await eventually('the installed agent to hold its control channel (/readyz)', 120_000, async () => ((await fetch(`http://127.0.0.1:${agentPort}/readyz`)).status === 200 ? true : undefined));
    // The single executable starts its Node with the servers' flags (its execArgv), and says so.
    expect(agent.stdout).toContain(`"nodeFlags":${JSON.stringify(SERVER_NODE_FLAGS)}`);
    // The single executable cannot set its own malloc settings: its unit does.
    expect(readFileSync(join(root, 'lib/systemd/system/lightsout-agent.service'), 'utf8')).toContain(`\nEnvironment=GLIBC_TUNABLES=${SERVER_MALLOC_TUNABLES}\n`);

    await agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    await relay.kill('SIGTERM');
    expect((await relay.exited).code).toBe(0);
  }, 300_000);
});
