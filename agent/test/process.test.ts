import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { importJWK, jwtVerify } from 'jose';
import { decodeAgentMessage, encodeControl, type AgentToRelay } from '@lightsout/shared';
import { eventually } from '@lightsout/lab/tracked-process';
import { loadOrCreateKeyPair } from '../src/identity/keys.js';
import { ensureStateDir, writeIdentity } from '../src/identity/state.js';

/**
 * The agent as a process: bin → the compiled agent (or the sources through tsx) → main. Exercises argv, config errors,
 * start-up with a stored identity and a clean stop on SIGTERM.
 */
const bin = fileURLToPath(new URL('../bin/lightsout-agent.js', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'lightsout-agent-process-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function startAgent(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout.resume();
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  void exited.then(() => clearTimeout(timer));
  return { child, exited, stderr: () => stderr };
}

describe('lightsout-agent process', () => {
  it('exits 2 naming the bad key when the config is invalid', async () => {
    const config = join(directory, 'bad.yaml');
    writeFileSync(config, 'relay: ftp://nowhere\nname: a\nstateDir: s\nservers: []\n');
    const agent = startAgent(['--config', config]);
    expect(await agent.exited).toBe(2);
    expect(agent.stderr()).toMatch(/^error CONFIG_INVALID: .*bad\.yaml: relay has an invalid format/);
  }, 30_000);

  it('exits 2 with usage when --config is missing', async () => {
    const agent = startAgent([]);
    expect(await agent.exited).toBe(2);
    expect(agent.stderr()).toMatch(/usage: lightsout-agent --config/);
  }, 30_000);

  it('connects with its stored identity, registers, and stops cleanly on SIGTERM', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(server, 'listening');
    const relay = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const stateDir = join(directory, 'state');
    await ensureStateDir(stateDir);
    const { keyPair } = await loadOrCreateKeyPair(stateDir);
    await writeIdentity(stateDir, { agentId: 'agt_process', region: 'eu', datacenter: 'fra1', audience: 'test-aud', relay });
    const config = join(directory, 'agent.yaml');
    writeFileSync(config, JSON.stringify({ relay, name: 'p', stateDir, log: { level: 'silent' }, servers: [{ id: 'web-01', name: 'web-01', tenant: 'demo', rack: 'r1', vnc: { url: 'vnc://127.0.0.1:5900' } }] }));

    const received: AgentToRelay[] = [];
    const connected = new Promise<{ token: string; closed: Promise<unknown> }>((resolve) => {
      server.once('connection', (socket, request) => {
        socket.on('message', (data) => {
          received.push(decodeAgentMessage(data.toString()));
          if (received.some((message) => message.type === 'inventory')) resolve({ token: (request.headers.authorization ?? '').slice(7), closed: once(socket, 'close') });
        });
        socket.send(encodeControl({ v: 1, type: 'welcome', agentId: 'agt_process', region: 'eu', datacenter: 'fra1', heartbeatIntervalMs: 10_000, maxFrameBytes: 1 << 20 }));
      });
    });
    const agent = startAgent(['--config', config]);
    try {
      const { token, closed } = await connected;
      const { payload } = await jwtVerify(token, await importJWK(keyPair.publicJwk, 'EdDSA'), { audience: 'test-aud', issuer: 'agt_process' });
      expect(payload.sub).toBe('agt_process');
      expect(received.map((message) => message.type)).toEqual(['hello', 'inventory']);
      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
      await closed;
    } finally {
      agent.child.kill('SIGKILL');
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 30_000);

  describe('with 10,000 servers (an inventory of more than one control frame)', () => {
    /** Enough labels that the whole inventory is over 2 MB, twice the control frame limit. */
    function largeConfig(relay: string, stateDir: string): string {
      const servers = Array.from({ length: 10_000 }, (_, index) => {
        const id = `server-${String(index).padStart(5, '0')}`;
        return { id, name: id, tenant: 'demo', rack: `rack-${index % 100}`, labels: { role: 'compute-node', pool: 'general-purpose-batch', owner: 'platform-team' }, vnc: { url: `vnc://10.${index >> 8}.${index & 255}.1:5900` } };
      });
      const path = join(directory, `large-${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(path, JSON.stringify({ relay, name: 'large', stateDir, log: { level: 'silent' }, servers }));
      return path;
    }

    async function fakeRelay(welcomeExtra: Record<string, unknown>) {
      const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 * 1024 * 1024 });
      await once(server, 'listening');
      const relay = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const stateDir = join(directory, `state-${Math.random().toString(36).slice(2)}`);
      await ensureStateDir(stateDir);
      await loadOrCreateKeyPair(stateDir);
      await writeIdentity(stateDir, { agentId: 'agt_large', region: 'eu', datacenter: 'fra1', audience: 'test-aud', relay });
      const frames: string[] = [];
      const closes: number[] = [];
      server.on('connection', (socket) => {
        socket.on('message', (data) => frames.push(data.toString()));
        socket.on('close', (code) => closes.push(code));
        socket.send(encodeControl({ v: 1, type: 'welcome', agentId: 'agt_large', region: 'eu', datacenter: 'fra1', heartbeatIntervalMs: 10_000, maxFrameBytes: 1 << 20, ...welcomeExtra } as never));
      });
      return { relay, stateDir, frames, closes, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
    }

    it('sends its inventory in parts, each within the frame limit, the last one marked final', async () => {
      const fake = await fakeRelay({ features: ['inventory-parts'] });
      const agent = startAgent(['--config', largeConfig(fake.relay, fake.stateDir)]);
      try {
        const inventories = () => fake.frames.map((frame) => decodeAgentMessage(frame)).filter((message) => message.type === 'inventory');
        await eventually('the final inventory part', 20_000, async () => (inventories().some((message) => message.more !== true) ? true : undefined));
        expect(Math.max(...fake.frames.map((frame) => Buffer.byteLength(frame)))).toBeLessThanOrEqual(1 << 20);
        const parts = inventories();
        expect(parts.length).toBeGreaterThan(1);
        expect(parts.slice(0, -1).every((part) => part.more === true)).toBe(true);
        const ids = parts.flatMap((part) => part.servers.map((server) => server.id));
        expect(new Set(ids).size).toBe(10_000);
        agent.child.kill('SIGTERM');
        expect(await agent.exited).toBe(0);
      } finally {
        agent.child.kill('SIGKILL');
        await fake.close();
      }
    }, 60_000);

    it('keeps running and tries again later, instead of exiting, when the relay cannot take an inventory in parts', async () => {
      // An older gateway during a rolling upgrade: its limit, not the agent's config (systemd would not restart an exit 2).
      const fake = await fakeRelay({});
      const agent = startAgent(['--config', largeConfig(fake.relay, fake.stateDir)]);
      try {
        await eventually('the agent to close the relay twice', 15_000, async () => (fake.closes.length >= 2 ? true : undefined));
        expect(fake.closes.slice(0, 2)).toEqual([4002, 4002]);
        expect(fake.frames).toEqual([]);
        expect(agent.child.exitCode).toBeNull();
        agent.child.kill('SIGTERM');
        expect(await agent.exited).toBe(0);
        expect(agent.stderr()).not.toMatch(/CONFIG_INVALID/);
      } finally {
        agent.child.kill('SIGKILL');
        await fake.close();
      }
    }, 60_000);
  });
});
