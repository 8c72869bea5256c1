import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { childLines } from './child-lines.js';

const childScript = fileURLToPath(new URL('./bulk-load-child.ts', import.meta.url));

export interface BulkLoad {
  /** The TCP port of the load's own sink (the idle and busy consoles' "BMC"). */
  sinkPort: number;
  /** Open `count` sessions on one console and leave them idle; resolves once all are streaming. */
  idle(relayUrl: string, token: string, server: string, count: number): Promise<void>;
  /** Open one pumping session per server; resolves once all are streaming. */
  start(relayUrl: string, token: string, servers: string[]): Promise<void>;
  /** The same load on a plain WebSocket bridge (websockify) in front of the sink: `idle` connections left open, `busy` pumping. */
  raw(websocketUrl: string, idle: number, busy: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Start the bulk load generator (bulk-load-child.ts) as its own process at
 * `nice` 19. On a small bench machine the load generator, the relay and the
 * agent share the cores; in production the other users' clients and BMCs
 * run elsewhere. Lowering the generator's priority keeps it from taking the
 * CPU the relay and agent need, while they still carry every byte it sends.
 */
export async function startBulkLoad(options: { nice?: number } = {}): Promise<BulkLoad> {
  const child = spawn('nice', ['-n', String(options.nice ?? 19), process.execPath, '--import', 'tsx', childScript], { stdio: ['pipe', 'pipe', 'inherit'] });
  const { send, next, stop } = childLines(child, 'the bulk load');
  const sinkPort = Number(await next('sink'));
  return {
    sinkPort,
    async idle(relayUrl, token, server, count) {
      send({ relayUrl, token, idle: { server, count } });
      await next('idle');
    },
    async start(relayUrl, token, servers) {
      send({ relayUrl, token, servers });
      await next('streaming');
    },
    async raw(websocketUrl, idle, busy) {
      send({ websocketUrl, rawIdle: idle });
      await next('idle');
      send({ websocketUrl, rawBusy: busy });
      await next('streaming');
    },
    stop: () => stop(10_000),
  };
}
