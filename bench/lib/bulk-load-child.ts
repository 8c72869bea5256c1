/**
 * The other users of a relay, as a separate process (bench/lib/bulk-load.ts
 * starts it): a TCP sink standing in for their BMCs, idle viewers of one
 * console, and `busy` console sessions pushing 64 KiB chunks through relay
 * and agent as fast as their send windows allow. Kept out of the measuring
 * process so its event loop does not sit between a probe and its echo
 * (a thousand idle viewers' status messages arriving at once held it for
 * over 100 ms).
 *
 * Protocol on stdio, one JSON object per line:
 *   out {"sink": port}                                         at start
 *   in  {"relayUrl", "token", "idle": {"server", "count"}}     open `count` sessions on one console, leave them idle
 *   out {"idle": n}                                            that many are streaming
 *   in  {"relayUrl", "token", "servers"}                       open one session per server and pump
 *   out {"streaming": n}                                       every session is streaming
 *   in  {"websocketUrl", "rawIdle": n}                         the same load on a plain WebSocket bridge (websockify):
 *   out {"idle": n}                                              n connections left idle,
 *   in  {"websocketUrl", "rawBusy": n}                           then n pumping 64 KiB binary messages
 *   out {"streaming": n}                                         (at most 1 MiB buffered each)
 *   in  EOF                                                    stop and exit
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { StreamClient } from '@lightsout/shared';
import WebSocket from 'ws';
import { connect, createSession, startCountingSink } from './stream-bench.js';

const sink = await startCountingSink();
process.stdout.write(`${JSON.stringify({ sink: sink.port })}\n`);

const clients: StreamClient[] = [];
const rawSockets: WebSocket[] = [];
let stopping = false;
const chunk = Buffer.alloc(64 * 1024, 0x42);

async function pump(client: StreamClient): Promise<void> {
  while (!stopping && client.state !== 'closed') {
    if (!client.write(chunk)) while (!client.canWrite && !stopping) await new Promise((resolve) => setTimeout(resolve, 1));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function openIdle(relayUrl: string, token: string, serverId: string, count: number): Promise<number> {
  // a few at a time: each join is a status to every viewer already there
  for (let opened = 0; opened < count; ) {
    const batch = Math.min(50, count - opened);
    const sessions = await Promise.all(Array.from({ length: batch }, () => createSession({ relayUrl, operatorToken: token }, serverId)));
    clients.push(...(await Promise.all(sessions.map((session) => connect(session, { onData: () => {} }, 120_000)))));
    opened += batch;
  }
  return count;
}

async function openBusy(relayUrl: string, token: string, servers: string[]): Promise<number> {
  const busy: StreamClient[] = [];
  for (const serverId of servers) busy.push(await connect(await createSession({ relayUrl, operatorToken: token }, serverId), { onData: () => {} }));
  clients.push(...busy);
  for (const client of busy) void pump(client);
  return busy.length;
}

/** One plain WebSocket to the bridge; a connection the bridge drops before its handshake (a fork that failed on a loaded machine) is tried again, three times at most. */
async function openRaw(url: string): Promise<WebSocket> {
  for (let attempt = 1; ; attempt++) {
    // Bounded: a bridge that stops accepting (websockify's listener past its select() limit) fails the run instead of hanging it.
    const socket = new WebSocket(url, ['binary'], { perMessageDeflate: false, handshakeTimeout: 30_000 });
    let failure: Error | undefined;
    // websockify answers a close with status 1005 in the frame, which ws rightly calls invalid.
    socket.on('error', (error) => (failure ??= error));
    const [opened] = await Promise.race([once(socket, 'open').then(() => [true]), once(socket, 'close').then(() => [false])]);
    if (opened === true) {
      rawSockets.push(socket);
      return socket;
    }
    if (attempt >= 3) throw failure ?? new Error('the bridge closed the connection before its handshake');
  }
}

async function openRawIdle(url: string, count: number): Promise<number> {
  for (let opened = 0; opened < count; ) {
    const batch = Math.min(50, count - opened);
    await Promise.all(Array.from({ length: batch }, () => openRaw(url)));
    opened += batch;
  }
  return count;
}

async function pumpRaw(socket: WebSocket): Promise<void> {
  while (!stopping && socket.readyState === WebSocket.OPEN) {
    while (socket.bufferedAmount > 1024 * 1024 && !stopping) await new Promise((resolve) => setTimeout(resolve, 1));
    socket.send(chunk);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function openRawBusy(url: string, count: number): Promise<number> {
  const busy: WebSocket[] = [];
  for (let index = 0; index < count; index++) busy.push(await openRaw(url));
  for (const socket of busy) void pumpRaw(socket);
  return busy.length;
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const request = JSON.parse(line) as { relayUrl: string; token: string; servers?: string[]; idle?: { server: string; count: number }; websocketUrl?: string; rawIdle?: number; rawBusy?: number };
  void (async () => {
    if (request.websocketUrl !== undefined && request.rawIdle !== undefined) {
      process.stdout.write(`${JSON.stringify({ idle: await openRawIdle(request.websocketUrl, request.rawIdle) })}\n`);
    } else if (request.websocketUrl !== undefined && request.rawBusy !== undefined) {
      process.stdout.write(`${JSON.stringify({ streaming: await openRawBusy(request.websocketUrl, request.rawBusy) })}\n`);
    } else if (request.idle) {
      const opened = await openIdle(request.relayUrl, request.token, request.idle.server, request.idle.count);
      process.stdout.write(`${JSON.stringify({ idle: opened })}\n`);
    } else {
      const streaming = await openBusy(request.relayUrl, request.token, request.servers ?? []);
      process.stdout.write(`${JSON.stringify({ streaming })}\n`);
    }
  })().catch((error: unknown) => {
    process.stderr.write(`bulk load failed: ${String(error)}\n`);
    process.exit(1);
  });
});
lines.on('close', () => {
  stopping = true;
  for (const client of clients) if (client.state !== 'closed') client.close();
  for (const socket of rawSockets) socket.terminate();
  void sink.close().then(() => process.exit(0));
});
