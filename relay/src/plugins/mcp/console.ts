import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { LightsoutError, type StatusMessage, type StreamKind, type StreamMode, StreamClient, isErrorCode } from '@lightsout/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import WebSocket from 'ws';
import { findServer } from '../../inventory/servers.js';

/** How a console exchange ends: output quiet for `quietMs` (the scrollback replay is sent at once), or `maxMs` in all. */
export interface ConsoleExchangeOptions {
  mode: StreamMode;
  /**
   * Bytes typed once the session streams and the agent's status says this
   * session holds control (console_send). Someone else holding control is a
   * CONFLICT, input the relay or the agent refused is BMC_UNREACHABLE: the
   * exchange resolves only when the bytes went out as the controller's.
   */
  input?: Uint8Array;
  quietMs: number;
  maxMs: number;
  /** Output kept (the newest bytes). */
  maxBytes: number;
}

/**
 * One short console session for a tool: a stream token like
 * `POST /v1/servers/:id/sessions` issues, then the relay's own stream
 * endpoint over loopback with the same client the CLI uses, so the session
 * is the ordinary kind (the agent's shared console and scrollback,
 * recordings, revocation, the agent's view/control rules). It reads what the
 * console replays and prints, optionally types `input`, and leaves. The
 * agent gives control to a joining session only when nobody else holds it
 * and silently drops a viewer's input, so input waits for a status that
 * says this session controls the console.
 */
export async function consoleExchange(app: FastifyInstance, request: FastifyRequest, serverId: string, options: ConsoleExchangeOptions): Promise<Buffer> {
  const principal = request.principal!;
  const row = await findServer(app.store, principal, serverId);
  const capabilities = JSON.parse(row.capabilities) as string[];
  const kind: StreamKind | undefined = capabilities.includes('sol') ? 'sol' : capabilities.includes('serial') ? 'serial' : undefined;
  if (kind === undefined) throw new LightsoutError('BMC_UNSUPPORTED', `server ${serverId} has no serial console (SOL or serial)`, { hint: 'add an IPMI or serial endpoint to the agent configuration' });
  if (!app.agentRouter.isOnline(row.agent_id)) throw new LightsoutError('AGENT_OFFLINE', `the agent of ${serverId} is not connected`);
  const address = app.server.address() as AddressInfo | null;
  if (address === null || typeof address !== 'object') throw new LightsoutError('INTERNAL', 'the relay is not listening');
  const host = address.family === 'IPv6' ? (address.address === '::' ? '[::1]' : `[${address.address}]`) : address.address === '0.0.0.0' ? '127.0.0.1' : address.address;

  const sessionId = randomBytes(16).toString('base64url');
  const { token } = await app.streams.tokens.issue({ sessionId, serverId: row.id, tenant: row.tenant_id, kind, mode: options.mode, agentId: row.agent_id, subject: principal.subject, user: principal.username }, 'connect');
  await app.audit.fromRequest(request, { action: 'session.open', outcome: 'success', subject: principal.subject, tenant: row.tenant_id, target: `server:${row.id}`, details: { kind, mode: options.mode, via: 'mcp' } });

  const chunks: Buffer[] = [];
  let kept = 0;
  return new Promise<Buffer>((resolve, reject) => {
    let lastDataAt = Date.now();
    let typed = false;
    let settled = false;
    /** The agent's latest word on this session's mode and who controls the console. */
    let status: StatusMessage | undefined;
    const startedAt = Date.now();
    const timers = new Set<NodeJS.Timeout>();
    const setTimer = (callback: () => void, ms: number) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        callback();
      }, ms);
      timers.add(timer);
      return () => {
        clearTimeout(timer);
        timers.delete(timer);
      };
    };
    const finish = (error?: LightsoutError) => {
      if (settled) return;
      settled = true;
      clearInterval(tick);
      void client.leave(1000).finally(() => {
        for (const timer of timers) clearTimeout(timer);
        if (error) reject(error);
        else resolve(Buffer.concat(chunks));
      });
    };
    /** Type the input once streaming as the controller; a console someone else controls refuses it. */
    const typeIfControlling = () => {
      if (options.input === undefined || typed || settled || status === undefined || client.state !== 'streaming') return;
      if (status.mode !== 'control') {
        return finish(
          new LightsoutError('CONFLICT', `${status.controller ?? 'someone else'} holds control of the console of ${serverId}; the line was not sent`, { hint: 'try again once they have left the console' }),
        );
      }
      typed = true;
      lastDataAt = Date.now();
      client.write(options.input);
    };
    const client = new StreamClient({
      streamUrl: `ws://${host}:${address.port}/v1/streams/${sessionId}`,
      token,
      socket: (url, protocols, events) => {
        const socket = new WebSocket(url, protocols, { perMessageDeflate: false, handshakeTimeout: options.maxMs });
        socket.on('unexpected-response', (_request, response) => {
          response.resume();
          socket.terminate();
        });
        socket.on('open', () => events.open());
        socket.on('message', (data: Buffer, isBinary) => events.message(isBinary ? data : data.toString('utf8')));
        socket.on('error', () => undefined);
        socket.on('close', (code, reason) => events.close(code, reason.toString('utf8')));
        return {
          send: (data) => socket.readyState === WebSocket.OPEN && socket.send(data),
          close: (code, reason) => (socket.readyState === WebSocket.CONNECTING ? socket.terminate() : socket.close(code, reason)),
        };
      },
      setTimer,
      // A tool call is short: a dropped leg ends it instead of resuming.
      resumeForMs: 0,
      refuseInputWhileDown: true,
      onData: (bytes) => {
        lastDataAt = Date.now();
        chunks.push(Buffer.from(bytes));
        kept += bytes.length;
        while (kept - (chunks[0]?.length ?? 0) >= options.maxBytes && chunks.length > 1) kept -= chunks.shift()!.length;
      },
      onState: (state) => {
        if (state === 'streaming') typeIfControlling();
      },
      onStatus: (message) => {
        status = message;
        typeIfControlling();
      },
      onInputRefused: (bytes) => {
        if (options.input !== undefined) finish(new LightsoutError('BMC_UNREACHABLE', `${bytes} bytes of the line did not reach the console of ${serverId} (the path to the BMC is down)`));
      },
      onClose: (code, reason) => {
        if (settled) return;
        // The gateway closes with the error code as the reason (gateway.ts closeCodeFor).
        if (isErrorCode(reason)) return finish(new LightsoutError(reason, `the console session ended: ${reason}`));
        const ended = () => new LightsoutError('BMC_UNREACHABLE', `the console session ended (${code}${reason ? ` ${reason}` : ''})`);
        if (options.input !== undefined && !typed) return finish(ended());
        finish(client.bytesReceived > 0 ? undefined : ended());
      },
    });
    const tick = setInterval(() => {
      const now = Date.now();
      const streaming = client.state === 'streaming';
      if (streaming && now - lastDataAt >= options.quietMs && (options.input === undefined || typed)) return finish();
      if (now - startedAt < options.maxMs) return;
      if (!streaming) return finish(new LightsoutError('BMC_TIMEOUT', `the console of ${serverId} did not open within ${options.maxMs} ms`));
      finish(options.input === undefined || typed ? undefined : new LightsoutError('BMC_TIMEOUT', `the agent did not say within ${options.maxMs} ms who controls the console of ${serverId}; the line was not sent`));
    }, 25);
  });
}
