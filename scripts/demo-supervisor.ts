/**
 * The demo's process supervisor: starts children tied to this process, logs
 * their output, starts a child that died again (and the children that depend
 * on it), and stops everything — on Ctrl-C, on a failure, or when a child
 * keeps dying — without ever leaving a process behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnTied } from '@lightsout/lab/processes';

export interface DemoChild {
  name: string;
  /** Arguments to this Node.js binary. */
  args: string[];
  env: Record<string, string>;
  /** Runs before each start (write a config file, pick up a new environment). */
  prepare?: () => void;
  /** Resolves when the child serves; after a restart the demo waits for it before starting dependents. */
  ready?: () => Promise<void>;
  /** Children to stop before this one is started again, and to start after it is ready. */
  dependents?: string[];
}

/** A child that exits this often within the window is broken, not unlucky: the demo stops. */
const RESTART_LIMIT = 5;
const RESTART_WINDOW_MS = 5 * 60_000;
/** Output kept in memory per child, for the few lines the demo parses. */
const OUTPUT_LIMIT = 1_000_000;

interface Running {
  spec: DemoChild;
  child: ChildProcess;
  output: string;
  /** Stopped on purpose (a dependency restarts): its exit is not a failure. */
  expectedExit: boolean;
}

/** Thrown by fail() to unwind the caller once the demo is stopping; never reported twice. */
class DemoStopped extends Error {}

export class Supervisor {
  readonly repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  readonly dataDir: string;
  readonly logDir: string;
  readonly #running = new Map<string, Running>();
  readonly #restarts = new Map<string, number[]>();
  #stopping = false;

  constructor(dataDir: string | undefined) {
    this.dataDir = resolve(dataDir ?? join(this.repo, '.data/demo'));
    this.logDir = join(this.dataDir, 'logs');
  }

  say(line: string): void {
    process.stdout.write(`demo: ${line}\n`);
  }

  /** Stops everything, exits with `code`, and unwinds the caller. */
  fail(message: string, code = 1): never {
    this.abort(message, code);
    throw new DemoStopped(message);
  }

  /** Like fail(), for event handlers, where a throw would crash the process with a stack trace. */
  abort(message: string, code = 1): void {
    if (this.#stopping) return;
    process.stderr.write(`demo: ${message}\n`);
    void this.stopAll().then(() => process.exit(code));
  }

  /** For main().catch: a DemoStopped was already reported. */
  report(error: unknown): void {
    if (error instanceof DemoStopped) return;
    this.abort(error instanceof Error ? error.message : String(error));
  }

  start(spec: DemoChild): void {
    spec.prepare?.();
    const log = createWriteStream(join(this.logDir, `${spec.name}.log`), { flags: 'a' });
    const child = spawnTied(process.execPath, spec.args, { cwd: this.repo, env: { ...process.env, ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const running: Running = { spec, child, output: '', expectedExit: false };
    const capture = (chunk: Buffer) => {
      log.write(chunk);
      if (running.output.length < OUTPUT_LIMIT) running.output += chunk.toString('utf8');
    };
    child.stdout?.on('data', capture);
    child.stderr?.on('data', capture);
    child.on('error', (error) => this.abort(`${spec.name} could not start: ${error.message}`));
    child.on('exit', (code, signal) => {
      log.end();
      if (this.#stopping || running.expectedExit) return;
      this.#restart(spec, signal ?? `code ${code}`).catch((error: unknown) => this.report(error));
    });
    this.#running.set(spec.name, running);
  }

  output(name: string): string {
    return this.#running.get(name)?.output ?? '';
  }

  async #restart(spec: DemoChild, how: string): Promise<void> {
    const now = Date.now();
    const recent = (this.#restarts.get(spec.name) ?? []).filter((at) => now - at < RESTART_WINDOW_MS);
    recent.push(now);
    this.#restarts.set(spec.name, recent);
    const log = join(this.logDir, `${spec.name}.log`);
    if (recent.length > RESTART_LIMIT) this.fail(`${spec.name} exited ${recent.length} times in ${RESTART_WINDOW_MS / 60_000} minutes (last: ${how}); stopping the demo — see ${log}`);
    this.say(`${spec.name} exited (${how}); starting it again (see ${log})`);
    const dependents = (spec.dependents ?? []).flatMap((name) => {
      const running = this.#running.get(name);
      return running === undefined ? [] : [running];
    });
    for (const dependent of dependents) await this.#stop(dependent);
    this.start(spec);
    await spec.ready?.();
    for (const dependent of dependents) {
      this.start(dependent.spec);
      await dependent.spec.ready?.();
    }
    this.say(`${[spec, ...dependents.map((dependent) => dependent.spec)].map((child) => child.name).join(' and ')} running again`);
  }

  async #stop(running: Running): Promise<void> {
    running.expectedExit = true;
    const { child } = running;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  async stopAll(): Promise<void> {
    this.#stopping = true;
    for (const running of [...this.#running.values()].reverse()) await this.#stop(running);
  }

  async waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#stopping) throw new DemoStopped(what);
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) this.fail(`timed out waiting for ${what}; logs in ${this.logDir}`);
      await new Promise((done) => setTimeout(done, 200));
    }
  }

  untilSignal(): Promise<void> {
    return new Promise((done) => {
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
  }

  openBrowser(url: string): void {
    spawn('xdg-open', [url], { stdio: 'ignore', detached: true }).on('error', () => undefined).unref();
  }
}

/** Whether nothing listens on host:port now (a listen that succeeds and is closed at once). */
export function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once('error', () => done(false));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => done(true)));
  });
}
