import type { Agent as HttpAgent } from 'node:http';
import { LightsoutError } from '@lightsout/shared';
import WebSocket from 'ws';
import type { BmcCredentials } from '../../drivers/types.js';
import type { ConsolePort, ConsolePortEvents } from './types.js';

/**
 * The BMC's serial console over WebSocket, as OpenBMC bmcweb serves it at
 * `/console0`: every binary frame is raw host serial output; anything we
 * send is written raw to the host UART (bmcweb obmc_console.hpp). With
 * credentials we use HTTP Basic (bmcweb skips the CSRF check for it).
 */
export function openSerialWebSocketPort(
  url: string,
  credentials: BmcCredentials | undefined,
  events: ConsolePortEvents,
  options: { insecureTls?: boolean; timeoutMs?: number; /** wss://: opens the TLS connection under the agent's trust policy for this BMC. */ agent?: HttpAgent } = {},
): Promise<ConsolePort> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (credentials) headers['Authorization'] = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    const socket = new WebSocket(url, {
      headers,
      perMessageDeflate: false,
      handshakeTimeout: options.timeoutMs ?? 10_000,
      maxPayload: 1024 * 1024,
      rejectUnauthorized: options.insecureTls !== true,
      ...(options.agent ? { agent: options.agent } : {}),
    });
    let open = false;
    let closed = false;
    let pendingWrites = 0;
    let failure: LightsoutError | undefined;
    socket.on('unexpected-response', (_request, response) => {
      const status = response.statusCode ?? 0;
      failure =
        status === 401 || status === 403
          ? new LightsoutError('BMC_AUTH_FAILED', `the BMC refused the serial console login (HTTP ${status})`)
          : new LightsoutError('BMC_PROTOCOL_ERROR', `the BMC answered the serial console upgrade with HTTP ${status}`);
      socket.terminate();
    });
    socket.once('open', () => {
      open = true;
      resolve(port);
    });
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      // bmcweb sends binary; some consoles send text frames of the same bytes.
      events.data(isBinary ? data : Buffer.from(data));
    });
    socket.on('error', (error) => {
      // A refused certificate (BMC_CERT_MISMATCH) keeps its own code.
      failure ??= error instanceof LightsoutError ? error : new LightsoutError('BMC_UNREACHABLE', `serial console ${new URL(url).host}: ${error.message}`);
    });
    socket.once('close', () => {
      if (!open) return reject(failure ?? new LightsoutError('BMC_UNREACHABLE', `cannot open the serial console at ${new URL(url).host}`));
      if (!closed) {
        closed = true;
        events.close('the BMC closed the serial console');
      }
    });
    const port: ConsolePort = {
      write(bytes) {
        if (socket.readyState !== WebSocket.OPEN) return true;
        pendingWrites += bytes.length;
        socket.send(bytes, { binary: true }, () => {
          pendingWrites -= bytes.length;
          if (pendingWrites === 0) events.drain();
        });
        return pendingWrites < 256 * 1024;
      },
      sendBreak: () => {},
      pause: () => socket.pause(),
      resume: () => socket.resume(),
      close: () => {
        if (socket.readyState === WebSocket.OPEN) socket.close(1000);
        else socket.terminate();
        setTimeout(() => socket.terminate(), 2000).unref();
      },
    };
  });
}
