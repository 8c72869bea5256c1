import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const childScript = fileURLToPath(new URL('./bulk-load-child.ts', import.meta.url));

export interface BulkLoad {
  /** The TCP port of the load's own sink (the idle and busy consoles' "BMC"). */
  sinkPort: number;
  /** Open `count` sessions on one console and leave them idle; resolves once all are streaming. */
  idle(relayUrl: string, token: string, server: string, count: number): Promise<void>;
  /** Open one pumping session per server; resolves once all are streaming. */
  start(relayUrl: string, token: string, servers: string[]): Promise<void>;
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
  const lines = createInterface({ input: child.stdout! });
  const messages: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  lines.on('line', (line) => {
    messages.push(JSON.parse(line) as Record<string, unknown>);
    wake?.();
  });
  const exited = once(child, 'exit');
  const next = async (key: string): Promise<unknown> => {
    // Bounded: the child answers each request once, or exits (which rejects below).
    for (;;) {
      const index = messages.findIndex((message) => key in message);
      if (index >= 0) return messages.splice(index, 1)[0]![key];
      if (child.exitCode !== null) throw new Error(`bulk load exited with ${child.exitCode}`);
      await Promise.race([new Promise<void>((resolve) => (wake = resolve)), exited]);
    }
  };
  const sinkPort = Number(await next('sink'));
  return {
    sinkPort,
    async idle(relayUrl, token, server, count) {
      child.stdin!.write(`${JSON.stringify({ relayUrl, token, idle: { server, count } })}\n`);
      await next('idle');
    },
    async start(relayUrl, token, servers) {
      child.stdin!.write(`${JSON.stringify({ relayUrl, token, servers })}\n`);
      await next('streaming');
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
