import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/**
 * Talking to a helper process (bulk-load-child.ts, console-fleet-child.ts)
 * in JSON lines: commands go to its stdin, one object a line; it answers on
 * stdout, one object a line, keyed by what it answers.
 */
export interface ChildLines {
  /** Writes one command line. */
  send(command: Record<string, unknown>): void;
  /** The value of the first answer that has `key` (waiting for it); rejects once the child has exited without it. */
  next(key: string): Promise<unknown>;
  /** Ends its stdin (the child's signal to finish) and waits for it to exit; SIGKILL after `graceMs`. */
  stop(graceMs: number): Promise<void>;
}

export function childLines(child: ChildProcess, name: string): ChildLines {
  const lines = createInterface({ input: child.stdout! });
  const messages: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  lines.on('line', (line) => {
    messages.push(JSON.parse(line) as Record<string, unknown>);
    wake?.();
  });
  const exited = once(child, 'exit');
  return {
    send(command) {
      child.stdin!.write(`${JSON.stringify(command)}\n`);
    },
    async next(key) {
      // Bounded: the child answers each command once, or exits (which throws below).
      for (;;) {
        const index = messages.findIndex((message) => key in message);
        if (index >= 0) return messages.splice(index, 1)[0]![key];
        if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), exited]);
      }
    },
    async stop(graceMs) {
      if (child.exitCode !== null) return;
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
