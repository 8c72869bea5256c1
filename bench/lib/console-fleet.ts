import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { StackServer } from './stack.js';

const childScript = fileURLToPath(new URL('./console-fleet-child.ts', import.meta.url));

export interface ConsoleFleet {
  /** Agent server entries (IPMI, SOL) for the stack. */
  servers: Array<StackServer & { id: string }>;
  credentials: Array<{ id: string; username: string; passwordEnv: string }>;
  /** The agent's environment with the BMC passwords its credentials name. */
  environment: NodeJS.ProcessEnv;
  /** Every host writes a numbered line `@<index>:<seq>#\r\n` to its console every `ms` (0 stops them). */
  lines(ms: number): Promise<void>;
  /** How many lines each host wrote so far. */
  written(): Promise<number[]>;
  /** The fleet process's id (CPU accounting). */
  pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * N simulated BMCs (bmcsim) in their own process, so that the benchmark's
 * clients and the BMCs they reach do not share one event loop: under load,
 * 200 BMCs and 200 clients in one process starved each other (SOL packets
 * unanswered until the agent gave the sessions up as BMC_TIMEOUT).
 */
export async function startConsoleFleet(count: number): Promise<ConsoleFleet> {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const messages: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  lines.on('line', (line) => {
    messages.push(JSON.parse(line) as Record<string, unknown>);
    wake?.();
  });
  const exited = once(child, 'exit');
  const next = async (key: string): Promise<unknown> => {
    // Bounded: the child answers each command once, or exits (which throws below).
    for (;;) {
      const index = messages.findIndex((message) => key in message);
      if (index >= 0) return messages.splice(index, 1)[0]![key];
      if (child.exitCode !== null) throw new Error(`the console fleet exited with ${child.exitCode}`);
      await Promise.race([new Promise<void>((resolve) => (wake = resolve)), exited]);
    }
  };
  const ready = (await next('ready')) as { servers: Array<StackServer & { id: string }>; credentials: ConsoleFleet['credentials']; environment: NodeJS.ProcessEnv };
  return {
    servers: ready.servers,
    credentials: ready.credentials,
    environment: ready.environment,
    pid: child.pid,
    async lines(ms) {
      child.stdin!.write(`${JSON.stringify({ lines: ms })}\n`);
      await next('lines');
    },
    async written() {
      child.stdin!.write(`${JSON.stringify({ written: 1 })}\n`);
      return (await next('written')) as number[];
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
