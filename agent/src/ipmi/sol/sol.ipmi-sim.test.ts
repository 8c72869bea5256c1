import { startIpmiSim, startUdpProxy, type IpmiSimLab } from '@lightsout/lab';
import { LightsoutError } from '@lightsout/shared';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openIpmiSession } from '../session/connect.js';
import { SolHub, type SolHubEvent } from './sol-hub.js';

// SOL against OpenIPMI's ipmi_sim with the lab plug-in; the host UART is in this process.
let lab: IpmiSimLab;
const hubs: SolHub[] = [];
// The hubs keep their scrollback on disk, as the agent does.
let scrollbackDirectory: string;
beforeAll(async () => {
  scrollbackDirectory = mkdtempSync(join(tmpdir(), 'sol-scrollback-'));
  lab = await startIpmiSim();
});
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
  lab.uart.setShell(false);
  lab.uart.clearReceived();
});
afterAll(async () => {
  await lab?.stop();
  rmSync(scrollbackDirectory, { recursive: true, force: true });
});

function hubFor(port: number, options: { keepaliveMs?: number; retransmitBaseMs?: number; ignorePort?: boolean } = {}): SolHub {
  const hub = new SolHub({
    ...(options.ignorePort ? { ignorePort: true } : {}),
    openSession: () => openIpmiSession({ host: lab.host, port, username: 'admin', password: 'adminpass', protocol: 'lanplus', cipherSuites: [3], timing: { requestTimeoutMs: 100, handshakeTimeoutMs: 300, handshakeAttempts: 10, requestRetries: 8 } }),
    timing: { retransmitBaseMs: options.retransmitBaseMs ?? 200, keepaliveMs: options.keepaliveMs ?? 15_000 },
    scrollbackDirectory,
  });
  hubs.push(hub);
  return hub;
}

/** Collects one viewer's output and resolves when `length` bytes arrived (bounded). */
function collector() {
  const chunks: Uint8Array[] = [];
  let length = 0;
  const waiters: Array<{ length: number; resolve: () => void }> = [];
  const events: SolHubEvent[] = [];
  return {
    events,
    listeners: {
      onData(bytes: Uint8Array) {
        chunks.push(bytes.slice());
        length += bytes.length;
        for (const waiter of waiters.splice(0)) {
          if (length >= waiter.length) waiter.resolve();
          else waiters.push(waiter);
        }
      },
      onEvent(event: SolHubEvent) {
        events.push(event);
      },
    },
    bytes: () => Buffer.concat(chunks),
    waitFor(target: number, timeoutMs = 20_000): Promise<void> {
      if (length >= target) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${length} of ${target} bytes`)), timeoutMs);
        waiters.push({ length: target, resolve: () => { clearTimeout(timer); resolve(); } });
      });
    },
  };
}

describe('SOL against ipmi_sim', () => {
  it('carries 1 MiB of host output and random keyboard input byte-exactly', async () => {
    const output = collector();
    const viewer = await hubFor(lab.port).attach('alice', { mode: 'control' }, output.listeners);
    const input = randomBytes(64 * 1024);
    for (let offset = 0; offset < input.length; offset += 4096) viewer.write(input.subarray(offset, offset + 4096));
    const hostOutput = randomBytes(1024 * 1024);
    lab.uart.write(hostOutput);
    await output.waitFor(hostOutput.length, 25_000);
    await lab.uart.waitForReceived((received) => received.length >= input.length, 25_000);
    expect(output.bytes().equals(hostOutput)).toBe(true);
    expect(Buffer.from(lab.uart.received()).equals(input)).toBe(true);
    // What a late viewer of the console gets: the last 256 KiB (the scrollback's size) of what this viewer got,
    // read back from the hub's file (unlinked when it was made: nothing in the directory by name).
    const last = hostOutput.subarray(hostOutput.length - 256 * 1024);
    expect(Buffer.from(viewer.scrollback()).equals(last)).toBe(true);
    const late = await hubs[0]!.attach('bob', { mode: 'view' }, collector().listeners);
    expect(Buffer.from(late.replay).equals(last)).toBe(true);
    expect(readdirSync(scrollbackDirectory)).toEqual([]);
  });

  it('stays byte-exact through 10% loss and reordering in both directions', async () => {
    const proxy = await startUdpProxy({ targetPort: lab.port, loss: 0.1, reorder: 0.1, seed: 20261122 });
    try {
      const output = collector();
      // ipmi_sim names its own port in Activate Payload, which the session reaches through the proxy at
      // another: a port forward, as quirk ignoreSolPort configures it.
      const hub = hubFor(proxy.port, { retransmitBaseMs: 100, ignorePort: true });
      const viewer = await hub.attach('alice', { mode: 'control' }, output.listeners);
      const input = randomBytes(3000);
      viewer.write(input);
      const hostOutput = randomBytes(6 * 1024);
      lab.uart.write(hostOutput);
      await output.waitFor(hostOutput.length, 40_000);
      await lab.uart.waitForReceived((received) => received.length >= input.length, 40_000);
      expect(output.bytes().equals(hostOutput)).toBe(true);
      expect(Buffer.from(lab.uart.received()).equals(input)).toBe(true);
      expect(proxy.stats.dropped).toBeGreaterThan(0);
      expect(proxy.stats.reordered).toBeGreaterThan(0);
      await hub.close();
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('fans one SOL session out to three viewers; a late viewer gets the ring buffer', async () => {
    lab.uart.setShell(true);
    const hub = hubFor(lab.port);
    const [first, second, third] = [collector(), collector(), collector()];
    const typist = await hub.attach('alice', { mode: 'control' }, first.listeners);
    const watcher = await hub.attach('bob', { mode: 'view' }, second.listeners);
    await hub.attach('carol', { mode: 'view' }, third.listeners);
    expect(typist.hasControl).toBe(true);
    expect(watcher.write(Buffer.from('ignored'))).toBe(false);
    expect(typist.write(Buffer.from('echo fan-out\r'))).toBe(true);
    await first.waitFor('echo fan-out\r\n'.length);
    expect(first.bytes().toString('latin1')).toBe('echo fan-out\r\n');
    expect(second.bytes().equals(first.bytes())).toBe(true);
    expect(third.bytes().equals(first.bytes())).toBe(true);
    expect(Buffer.from(lab.uart.received()).toString('latin1')).toBe('echo fan-out\r');

    const late = collector();
    const lateViewer = await hub.attach('dave', { mode: 'view' }, late.listeners);
    expect(Buffer.from(lateViewer.replay).toString('latin1')).toBe('echo fan-out\r\n');

    watcher.takeControl();
    expect(watcher.hasControl).toBe(true);
    expect(typist.hasControl).toBe(false);
    expect(first.events).toContainEqual({ type: 'control', holder: 'bob', previous: 'alice' });
    expect(late.events).toContainEqual({ type: 'control', holder: 'bob', previous: 'alice' });
  });

  it('reports who holds SOL, takes it over when privileged, and the loser notices the theft', async () => {
    const ownerOutput = collector();
    const owner = hubFor(lab.port, { keepaliveMs: 150 });
    await owner.attach('alice', { mode: 'control' }, ownerOutput.listeners);
    const failure = await hubFor(lab.port).attach('mallory', { mode: 'control' }, collector().listeners).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LightsoutError);
    expect((failure as LightsoutError).code).toBe('BMC_BUSY');
    expect((failure as LightsoutError).details?.['ownerSessionId']).toEqual(expect.any(Number));

    const thief = collector();
    const takeover = await hubFor(lab.port).attach('root', { mode: 'control', takeover: true }, thief.listeners);
    expect(takeover.tookOver).toBe(true);
    await expect.poll(() => ownerOutput.events.find((event) => event.type === 'ended'), { timeout: 5000 }).toMatchObject({ type: 'ended', reason: 'stolen' });
    lab.uart.write('after takeover');
    await thief.waitFor('after takeover'.length);
    expect(thief.bytes().toString('latin1')).toBe('after takeover');
    takeover.detach();
  });
});

describe('always-on SOL', () => {
  it('keeps SOL open with nobody watching, so a viewer attaching later gets the output from before', async () => {
    const hub = new SolHub({
      alwaysOn: true,
      openSession: () => openIpmiSession({ host: lab.host, port: lab.port, username: 'admin', password: 'adminpass', protocol: 'lanplus', cipherSuites: [3] }),
    });
    hubs.push(hub);
    await hub.start();
    expect(hub.active).toBe(true);
    const text = 'boot messages nobody watched\r\n';
    lab.uart.write(text);
    await expect.poll(() => hub.buffered, { timeout: 5000 }).toBe(text.length);
    const late = await hub.attach('late', { mode: 'view' }, collector().listeners);
    expect(Buffer.from(late.replay).toString()).toBe(text);
    late.detach();
    expect(hub.active).toBe(true);
  });
});
