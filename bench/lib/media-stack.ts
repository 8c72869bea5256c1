import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from '@lightsout/lab';
import { createJoinTokenAs, loginWithPassword } from '@lightsout/relay/testing';
import type { ServerList } from '@lightsout/shared';
import { Bmc, type BmcFaults, bmcConfig } from '@lightsout/bmcsim';
import { ChildProcessHandle, REPO_ROOT, eventually, runToCompletion } from './processes.js';
import { STACK_ENV, STACK_NODE_FLAGS } from './stack-node-flags.js';

/**
 * The whole virtual media path on loopback, each part as a user runs it: the
 * relay and the agent as child processes (so their memory is their own), the
 * simulated BMC in this process (its host's serial console is what tests
 * read), and the real `lightsout` CLI as a child per command.
 */
export const PASSWORD = 'media-stack-password';

export interface MediaStack {
  root: string;
  relayUrl: string;
  relay: ChildProcessHandle;
  readonly agent: ChildProcessHandle;
  /** kill -9 the agent, wait until the relay sees it gone, run `whileDown`, start it again with the same state directory. */
  restartAgent(whileDown?: () => void): Promise<void>;
  bmc: Bmc;
  /** Everything the simulated host printed on its serial console. */
  serial(): string;
  operatorToken: string;
  cli(args: string[], timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** The CLI started as a process the caller watches (its pid, its output as it comes) and waits for. */
  spawnCli(args: string[]): ChildProcessHandle;
  stop(): Promise<void>;
}

export interface MediaStackOptions {
  faults?: Partial<BmcFaults>;
  /** Largest image the BMC reads (bmcsim default 8 GiB). */
  mediaMaxBytes?: number;
  agentEnv?: NodeJS.ProcessEnv;
  relayConfig?: Record<string, unknown>;
  /** The CLI program to run (default: the sources through tsx, cli/bin/lightsout.js). */
  cliBin?: string;
}

export async function startMediaStack(options: MediaStackOptions = {}): Promise<MediaStack> {
  const root = mkdtempSync(join(tmpdir(), 'lightsout-media-'));
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    for (const part of started.reverse()) await part.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const bmc = new Bmc(bmcConfig('vm-01', { timings: { postMs: 20, bootMs: 20, shutdownMs: 50, cycleMs: 20 }, faults: options.faults ?? {}, ...(options.mediaMaxBytes ? { mediaMaxBytes: options.mediaMaxBytes } : {}) }));
    let serial = '';
    bmc.host.on('serial', (bytes: Uint8Array) => {
      serial = (serial + Buffer.from(bytes).toString('latin1')).slice(-100_000);
    });
    const endpoints = await bmc.start({ address: '127.0.0.1', ipmiPort: 0, webPort: 0, vncPort: 0, tls: undefined });
    started.push({ stop: () => bmc.stop() });

    const port = await freeTcpPort();
    const relayUrl = `http://127.0.0.1:${port}`;
    const relayConfigFile = join(root, 'relay.yaml');
    writeFileSync(
      relayConfigFile,
      JSON.stringify({ listen: { host: '127.0.0.1', port }, dataDir: join(root, 'relay-data'), webRoot: join(root, 'no-web'), logLevel: 'warn', agents: { heartbeatIntervalMs: 1000 }, ...options.relayConfig }),
    );
    const relay = new ChildProcessHandle('relay', process.execPath, [...STACK_NODE_FLAGS, join(REPO_ROOT, 'relay/bin/lightsout-relay.js'), '--config', relayConfigFile], { ...process.env, ...STACK_ENV, LIGHTSOUT_DEMO_PASSWORD: PASSWORD });
    started.push({ stop: () => relay.kill(process.env['BENCH_PROFILE'] ? 'SIGTERM' : 'SIGKILL') });
    await eventually('the relay to be ready', 60_000, async () => {
      if (!relay.running) throw new Error(`relay exited: ${relay.stderr}`);
      const response = await fetch(`${relayUrl}/readyz`);
      await response.body?.cancel();
      return response.ok ? true : undefined;
    });

    const admin = await loginWithPassword(relayUrl, 'admin', PASSWORD);
    const operator = await loginWithPassword(relayUrl, 'operator', PASSWORD);
    const { token: joinToken } = await createJoinTokenAs(relayUrl, admin.accessToken, { region: 'lab', datacenter: 'dc1' });
    const agentConfig = join(root, 'agent.yaml');
    writeFileSync(
      agentConfig,
      JSON.stringify({
        relay: relayUrl,
        name: 'media-agent',
        stateDir: join(root, 'agent-state'),
        log: { level: 'warn' },
        poll: { intervalMs: 5000, concurrency: 2 },
        credentials: [{ id: 'bmc', username: 'admin', passwordEnv: 'BMC_PASSWORD' }],
        servers: [
          { id: 'vm-01', name: 'bmcsim Redfish', tenant: 'demo', rack: 'r1', redfish: { url: endpoints.redfishUrl, credentials: 'bmc' } },
          { id: 'ipmi-only', name: 'IPMI only', tenant: 'demo', rack: 'r1', ipmi: { host: '127.0.0.1', port: endpoints.ipmiPort || 9, credentials: 'bmc' } },
        ],
      }),
    );
    const agentEnv = {
      ...process.env,
      ...STACK_ENV,
      BMC_PASSWORD: 'adminpass',
      LIGHTSOUT_JOIN_TOKEN: joinToken,
      LIGHTSOUT_MEDIA_LISTEN: '127.0.0.1:0',
      ...options.agentEnv,
    };
    const startAgent = async () => {
      const handle = new ChildProcessHandle('agent', process.execPath, [...STACK_NODE_FLAGS, join(REPO_ROOT, 'agent/bin/lightsout-agent.js'), '--config', agentConfig], agentEnv);
      started.push({ stop: () => handle.kill(process.env['BENCH_PROFILE'] ? 'SIGTERM' : 'SIGKILL') });
      await eventually('vm-01 online', 60_000, async () => {
        if (!handle.running) throw new Error(`agent exited: ${handle.stderr}`);
        const response = await fetch(`${relayUrl}/v1/servers`, { headers: { authorization: `Bearer ${operator.accessToken}` } });
        const list = (await response.json()) as ServerList;
        return list.servers?.find((server) => server.id === 'vm-01' && server.agent === 'online');
      });
      return handle;
    };
    let agent = await startAgent();
    const cliCommand = cliCommandOf(options.cliBin ?? join(REPO_ROOT, 'cli/bin/lightsout.js'));
    const cliEnv = { ...process.env, ...STACK_ENV, LIGHTSOUT_TOKEN: operator.accessToken, LIGHTSOUT_RELAY: relayUrl, LIGHTSOUT_CONFIG_DIR: join(root, 'cli-config'), LIGHTSOUT_PROGRESS: 'lines' };
    return {
      root,
      relayUrl,
      relay,
      get agent() {
        return agent;
      },
      async restartAgent(whileDown) {
        await agent.kill('SIGKILL');
        await eventually('vm-01 offline', 60_000, async () => {
          const response = await fetch(`${relayUrl}/v1/servers`, { headers: { authorization: `Bearer ${operator.accessToken}` } });
          const list = (await response.json()) as ServerList;
          return list.servers?.find((server) => server.id === 'vm-01' && server.agent !== 'online');
        });
        whileDown?.();
        agent = await startAgent();
      },
      bmc,
      serial: () => serial,
      operatorToken: operator.accessToken,
      cli: (args, timeoutMs) => runToCompletion(process.execPath, [...cliCommand, ...args], cliEnv, timeoutMs),
      spawnCli: (args) => new ChildProcessHandle(args.join(' '), process.execPath, [...cliCommand, ...args], cliEnv),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * Writes a random image of `size` bytes to `path`, with the ISO 9660 signature
 * where BMCs look (ECMA-119 §8.4: the first volume descriptor at 0x8000).
 * Block by block, so a 1 GiB benchmark image is never held in memory; every
 * block differs a little, so nothing below us can deduplicate it.
 */
export function writeIsoImage(path: string, size: number): { size: number; sha256: string } {
  const hash = createHash('sha256');
  const block = randomBytes(Math.min(size, 4 * 1024 * 1024));
  const fd = openSync(path, 'w');
  try {
    for (let offset = 0; offset < size; offset += block.length) {
      const chunk = block.subarray(0, Math.min(block.length, size - offset));
      if (offset === 0 && chunk.length > 0x8006) chunk.write('CD001', 0x8001, 'latin1');
      hash.update(chunk);
      writeSync(fd, chunk);
      block[0] = (block[0]! + 1) & 0xff;
    }
  } finally {
    closeSync(fd);
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * The CLI file and the Node flags its first line gives node
 * (`#!/usr/bin/env -S NAME=value… node …`): run as an operator runs it, an
 * executable, but through this process's node rather than whichever one
 * PATH finds. The variables the line sets are skipped: the stack's
 * environment (STACK_ENV) sets the same, or an experiment's in their place.
 */
export function cliCommandOf(bin: string): string[] {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
  const words = /^#!\/usr\/bin\/env -S (.+)$/.exec(first)?.[1]?.trim().split(/\s+/) ?? [];
  // NAME=value… node flags…: the flags follow the first word that is not a variable.
  const program = words.findIndex((word) => !/^[A-Za-z_]\w*=/.test(word));
  return [...(program < 0 ? [] : words.slice(program + 1)), bin];
}
