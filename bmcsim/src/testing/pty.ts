import { spawn, type IPty } from 'node-pty';

/**
 * A third-party console client (ipmitool sol activate, ipmiconsole) under a
 * real pseudo-terminal, as a user would run it. Output is collected as Latin-1
 * so byte values survive; `waitFor` resolves on output, never on a timer.
 */
export class PtyClient {
  private readonly pty: IPty;
  private output = '';
  private readonly listeners = new Set<() => void>();
  exitCode: number | undefined;

  constructor(command: string, args: string[]) {
    this.pty = spawn(command, args, { name: 'xterm', cols: 200, rows: 50, encoding: null as unknown as string, env: { ...process.env, TERM: 'xterm' } });
    this.pty.onData((data: string | Buffer) => {
      this.output += typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
      for (const listener of this.listeners) listener();
    });
    this.pty.onExit(({ exitCode }) => {
      this.exitCode = exitCode;
      for (const listener of this.listeners) listener();
    });
  }

  get text(): string {
    return this.output;
  }

  write(bytes: string): void {
    this.pty.write(bytes);
  }

  async waitFor(predicate: (output: string) => boolean, timeoutMs = 10_000, what = 'output'): Promise<void> {
    if (predicate(this.output)) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (predicate(this.output)) {
          finish();
          resolve();
        } else if (this.exitCode !== undefined) {
          finish();
          reject(new Error(`client exited (${this.exitCode}) before ${what}; output: ${JSON.stringify(this.output.slice(-400))}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for ${what}; output: ${JSON.stringify(this.output.slice(-400))}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
    });
  }

  async exited(timeoutMs = 10_000): Promise<number> {
    await this.waitFor(() => this.exitCode !== undefined, timeoutMs, 'exit').catch(() => undefined);
    if (this.exitCode === undefined) this.kill();
    return this.exitCode ?? -1;
  }

  kill(): void {
    if (this.exitCode === undefined) this.pty.kill('SIGKILL');
  }
}
