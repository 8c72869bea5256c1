/** Helpers shared by the stream-plane benchmarks. */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { type SessionCreated, StreamClient, type StreamClientOptions } from '@lightsout/shared';
import type { Stack } from './stack.js';
import { nodeSocketFactory, setTimer } from './stream-socket.js';

export function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index === -1) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} needs a number ≥ 0`);
  return value;
}

export async function createSession(stack: Pick<Stack, 'relayUrl' | 'operatorToken'>, serverId: string, kind = 'serial'): Promise<SessionCreated> {
  const response = await fetch(`${stack.relayUrl}/v1/servers/${serverId}/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.operatorToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind }),
  });
  if (response.status !== 201) throw new Error(`session on ${serverId}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as SessionCreated;
}

/** Connect and resolve once streaming (or reject on close / timeout). */
export function connect(session: SessionCreated, handlers: Partial<StreamClientOptions> & Pick<StreamClientOptions, 'onData'>, timeoutMs = 30_000): Promise<StreamClient> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('stream did not start in time')), timeoutMs);
    const client: StreamClient = new StreamClient({
      streamUrl: session.streamUrl,
      token: session.token,
      socket: nodeSocketFactory(),
      setTimer,
      ...handlers,
      onState: (state, detail) => {
        handlers.onState?.(state, detail);
        if (state === 'streaming') {
          clearTimeout(timer);
          resolve(client);
        }
      },
      onClose: (code, reason) => {
        handlers.onClose?.(code, reason);
        clearTimeout(timer);
        reject(new Error(`closed ${code} ${reason}`));
      },
    });
  });
}

/** A TCP sink that counts bytes; `waitFor(n)` resolves once n bytes arrived since the last reset. */
export async function startCountingSink(): Promise<{ port: number; reset(): void; waitFor(bytes: number): Promise<void>; close(): Promise<void> }> {
  let count = 0;
  let waiter: { bytes: number; resolve: () => void } | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      count += chunk.length;
      if (waiter && count >= waiter.bytes) {
        const done = waiter;
        waiter = undefined;
        done.resolve();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as { port: number }).port,
    reset: () => (count = 0),
    waitFor: (bytes) => (count >= bytes ? Promise.resolve() : new Promise((resolve) => (waiter = { bytes, resolve }))),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Resident set size of a process in KiB (Linux /proc). */
export function rssKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]);
}

/**
 * Write `total` bytes through a client, honouring its send window.
 * `drained` resolves once the window reopens: a `drainSignal()`'s wait when
 * the client was connected with its onDrain, else a poll of the window.
 */
export async function pump(client: StreamClient, total: number, chunk: Buffer, drained: () => Promise<void> = () => pollForDrain(client)): Promise<void> {
  let sent = 0;
  while (sent < total) {
    const length = Math.min(chunk.length, total - sent);
    if (!client.write(chunk.subarray(0, length))) await drained();
    sent += length;
  }
}

/**
 * A client's onDrain as a promise: the sender goes on as soon as an ack
 * reopens the window. Polling every millisecond instead cost the bench's
 * client timers while the window was closed and up to a millisecond of idle
 * chain after each ack — the client's turn to be the slow end (relay-throughput).
 */
export function drainSignal(): { onDrain(): void; wait(): Promise<void> } {
  let release: (() => void) | undefined;
  return {
    onDrain() {
      const resolve = release;
      release = undefined;
      resolve?.();
    },
    wait: () => new Promise<void>((resolve) => (release = resolve)),
  };
}

function pollForDrain(client: StreamClient): Promise<void> {
  // Polls the window: needs no per-client hook.
  return new Promise((resolve) => {
    const check = () => (client.canWrite ? resolve() : setTimeout(check, 1));
    check();
  });
}

/** CPU seconds (user + system) a process used so far (Linux /proc, clock ticks of 1/100 s); 0 when it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
