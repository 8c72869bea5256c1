import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { childLines } from './child-lines.js';
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
  const { send, next, stop } = childLines(child, 'the console fleet');
  const ready = (await next('ready')) as { servers: Array<StackServer & { id: string }>; credentials: ConsoleFleet['credentials']; environment: NodeJS.ProcessEnv };
  return {
    servers: ready.servers,
    credentials: ready.credentials,
    environment: ready.environment,
    pid: child.pid,
    async lines(ms) {
      send({ lines: ms });
      await next('lines');
    },
    async written() {
      send({ written: 1 });
      return (await next('written')) as number[];
    },
    stop: () => stop(20_000),
  };
}
