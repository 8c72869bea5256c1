import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';

/**
 * A console client that needs a terminal (`ipmitool sol activate`, `ssh`)
 * run on a pseudo-terminal by util-linux script(1), and ended the way a
 * person ends it: `~.` at the start of a line (the escape both ipmitool and
 * OpenSSH read), SIGTERM if it has not exited after `graceMs`.
 */
export interface TtyClient {
  child: ChildProcessWithoutNullStreams;
  exited: Promise<void>;
  leave(graceMs?: number): Promise<void>;
}

export function spawnOnTty(command: string): TtyClient {
  const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    exited,
    async leave(graceMs = 3000) {
      child.stdin.write('\r~.');
      const timer = setTimeout(() => child.kill('SIGTERM'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
