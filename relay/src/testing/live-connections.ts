import { statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import type { SessionCreated } from '@lightsout/shared';
import WebSocket from 'ws';
import type { EventMessage } from '../plugins/events.js';
import type { RunningRelay } from './relay.js';
import { waitFor } from '@lightsout/lab/wait';

/**
 * Test-only: the connections that outlive a request — a console leg with its
 * resume token, an event feed, a tus PATCH still sending bytes — opened the
 * way clients open them, each with a promise of how and when it ended.
 */
export interface Ended {
  code: number;
  at: number;
}

export interface LiveConsole {
  session: SessionCreated;
  resumeToken: string;
  client: WebSocket;
  closed: Promise<Ended>;
}

async function post(relay: RunningRelay, path: string, token: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${relay.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** A control console on `serverId`; resolves once spliced (the first resume token arrived). */
export async function openLiveConsole(relay: RunningRelay, token: string, serverId: string): Promise<LiveConsole> {
  const session = (await post(relay, `/v1/servers/${serverId}/sessions`, token, { kind: 'sol', mode: 'control' })) as unknown as SessionCreated;
  const client = new WebSocket(session.streamUrl, ['lightsout.stream.v1', `bearer.${session.token}`]);
  client.on('error', () => undefined);
  const closed = new Promise<Ended>((resolve) => client.once('close', (code) => resolve({ code, at: Date.now() })));
  const resumeToken = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no resume token within 10 s')), 10_000);
    client.on('message', (data, binary) => {
      const message = binary ? undefined : (JSON.parse(data.toString()) as { type: string; token?: string });
      if (message?.type === 'token' && message.token !== undefined) {
        clearTimeout(timer);
        resolve(message.token);
      }
    });
    client.once('unexpected-response', (_request, response) => reject(new Error(`stream refused: ${response.statusCode}`)));
  });
  client.send(JSON.stringify({ type: 'resume', offset: 0 }));
  return { session, resumeToken, client, closed };
}

/** What a reconnect with this resume token gets: the HTTP status of the refused upgrade, or 'open'. */
export function resumeOutcome(live: LiveConsole): Promise<number | 'open'> {
  const socket = new WebSocket(live.session.streamUrl, ['lightsout.stream.v1', `bearer.${live.resumeToken}`]);
  socket.on('error', () => undefined);
  return new Promise((resolve) => {
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('open', () => {
      resolve('open');
      socket.terminate();
    });
  });
}

export interface LiveFeed {
  socket: WebSocket;
  messages: EventMessage[];
  closed: Promise<Ended>;
  /** Resolves with the first message (kept or new) that matches, or rejects after `timeoutMs`. */
  next(matches: (message: EventMessage) => boolean, timeoutMs?: number): Promise<EventMessage & { at: number }>;
}

/** The event feed; resolves once its first snapshot arrived (consumed). */
export async function openLiveFeed(relay: RunningRelay, token: string): Promise<LiveFeed> {
  const socket = new WebSocket(`${relay.url.replace(/^http/, 'ws')}/v1/events`, ['lightsout.events.v1', `bearer.${token}`]);
  socket.on('error', () => undefined);
  const messages: Array<EventMessage & { at: number }> = [];
  const wakers = new Set<() => void>();
  socket.on('message', (data) => {
    messages.push({ ...(JSON.parse(data.toString()) as EventMessage), at: Date.now() });
    for (const wake of [...wakers]) wake();
  });
  const closed = new Promise<Ended>((resolve) => socket.once('close', (code) => resolve({ code, at: Date.now() })));
  const next = async (matches: (message: EventMessage) => boolean, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = messages.findIndex(matches);
      if (index >= 0) return messages.splice(0, index + 1).at(-1)!;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error('no matching event in time');
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          wakers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, remaining);
        wakers.add(wake);
      });
    }
  };
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
  });
  await next((message) => message.type === 'servers');
  return { socket, messages, closed, next };
}

export interface LiveUpload {
  /** The PATCH's answer: status, body, when. */
  answered: Promise<{ status: number; body: string; at: number }>;
  /** Send more bytes (false once the relay stopped reading). */
  write(bytes: Buffer): boolean;
  abandon(): void;
  /** The upload's URL path, and the file the relay writes it to. */
  location: string;
  file: string;
}

/** A tus upload whose PATCH has its first bytes on disk and is still open for more. */
export async function startLiveUpload(relay: RunningRelay, token: string, size = 4 * 1024 * 1024): Promise<LiveUpload> {
  const tus = { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}` };
  const creation = await fetch(`${relay.url}/v1/media/uploads`, {
    method: 'POST',
    headers: { ...tus, 'upload-length': String(size), 'upload-metadata': `filename ${Buffer.from('live.iso').toString('base64')},sha256 ${Buffer.from('00'.repeat(32)).toString('base64')}` },
  });
  if (creation.status !== 201) throw new Error(`upload creation: ${creation.status} ${await creation.text()}`);
  const location = new URL(creation.headers.get('location')!, relay.url).pathname;
  const file = join(relay.dataDir, 'media', location.split('/').pop()!);
  const patch = httpRequest(`${relay.url}${location}`, { method: 'PATCH', headers: { ...tus, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream', 'content-length': String(size) } });
  patch.on('error', () => undefined);
  const answered = new Promise<{ status: number; body: string; at: number }>((resolve) =>
    patch.once('response', (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, at: Date.now() }));
    }),
  );
  const first = 64 * 1024;
  patch.write(Buffer.alloc(first, 1));
  await waitFor('the first bytes of the upload on disk', () => statSync(file).size >= first);
  return { answered, write: (bytes) => patch.write(bytes), abandon: () => patch.destroy(), location, file };
}
