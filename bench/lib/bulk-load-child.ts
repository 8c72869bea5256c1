/**
 * The other users of a relay, as a separate process (bench/lib/bulk-load.ts
 * starts it): a TCP sink standing in for their BMCs, and `busy` console
 * sessions pushing 64 KiB chunks through relay and agent as fast as their
 * send windows allow. Kept out of the measuring process so its event loop
 * does not sit between a probe and its echo.
 *
 * Protocol on stdio, one JSON object per line:
 *   out {"sink": port}                      at start
 *   in  {"relayUrl", "token", "servers"}    open one session per server and pump
 *   out {"streaming": n}                    every session is streaming
 *   in  EOF                                 stop and exit
 */
import { createInterface } from 'node:readline';
import type { StreamClient } from '@lightsout/shared';
import { connect, createSession, startCountingSink } from './stream-bench.js';

const sink = await startCountingSink();
process.stdout.write(`${JSON.stringify({ sink: sink.port })}\n`);

const clients: StreamClient[] = [];
let stopping = false;
const chunk = Buffer.alloc(64 * 1024, 0x42);

async function pump(client: StreamClient): Promise<void> {
  while (!stopping && client.state !== 'closed') {
    if (!client.write(chunk)) while (!client.canWrite && !stopping) await new Promise((resolve) => setTimeout(resolve, 1));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const { relayUrl, token, servers } = JSON.parse(line) as { relayUrl: string; token: string; servers: string[] };
  void (async () => {
    for (const serverId of servers) {
      const client = await connect(await createSession({ relayUrl, operatorToken: token }, serverId), { onData: () => {} });
      clients.push(client);
    }
    process.stdout.write(`${JSON.stringify({ streaming: clients.length })}\n`);
    for (const client of clients) void pump(client);
  })().catch((error: unknown) => {
    process.stderr.write(`bulk load failed: ${String(error)}\n`);
    process.exit(1);
  });
});
lines.on('close', () => {
  stopping = true;
  for (const client of clients) if (client.state !== 'closed') client.close();
  void sink.close().then(() => process.exit(0));
});
