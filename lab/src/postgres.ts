import { type ChildProcess, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from './ports.js';
import { spawnTied } from './processes.js';

/**
 * A throwaway PostgreSQL server (Debian `postgresql`) for tests: a fresh
 * cluster in a temporary directory, listening on a free loopback port only,
 * trust authentication for the one superuser `lightsout`. PostgreSQL refuses
 * to run as root, so as root the cluster belongs to the Debian `postgres`
 * system user and both initdb and the server run as that user (spawn's
 * uid/gid, no su/sudo in between: the pid we hold is the server's own).
 * Nothing here stops a process it did not start.
 */
export interface PostgresPeer {
  /** `postgres://lightsout@127.0.0.1:PORT/postgres` */
  readonly url: string;
  readonly port: number;
  /** The running server's pid (-1 while stopped). */
  readonly pid: number;
  /** A new empty database on this server; its URL. Lets tests on one server stay apart. */
  createDatabase(name: string): Promise<string>;
  /** Fast shutdown (SIGINT) of exactly this server, then its directory is removed. Idempotent. */
  stop(): Promise<void>;
  /** Fast shutdown, keeping the cluster: clients see the database go away (a PostgreSQL restart's first half). */
  stopServer(): Promise<void>;
  /** Starts the stopped server again on the same port and data, and resolves once it accepts connections. */
  startServer(): Promise<void>;
}

const READY_LINE = 'database system is ready to accept connections';
const OUTPUT_LIMIT = 16 * 1024;

/** The newest installed server's bin directory, e.g. /usr/lib/postgresql/15/bin. */
export function postgresBinDirectory(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((entry) => /^\d+$/.test(entry)).sort((left, right) => Number(right) - Number(left));
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    if (existsSync(join(bin, 'postgres')) && existsSync(join(bin, 'initdb'))) return bin;
  }
  return undefined;
}

export function postgresInstalled(): boolean {
  return postgresBinDirectory() !== undefined;
}

/** uid/gid to run as: ourselves, or the `postgres` system user when we are root. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  if (!Number.isSafeInteger(uid) || uid <= 0 || !Number.isSafeInteger(gid)) {
    throw new Error('running as root and there is no "postgres" user to run PostgreSQL as (apt-get install postgresql creates it)');
  }
  return { uid, gid };
}

const SLUG = /^[a-z][a-z0-9_]{0,62}$/;

export async function startPostgres(options: { readyTimeoutMs?: number } = {}): Promise<PostgresPeer> {
  const bin = postgresBinDirectory();
  if (bin === undefined) throw new Error('PostgreSQL is not installed: apt-get install postgresql');
  const user = runAs();
  const directory = mkdtempSync(join(tmpdir(), 'lightsout-pg-'));
  const dataDir = join(directory, 'data');
  if (user !== undefined) chownSync(directory, user.uid, user.gid);
  const identity = user === undefined ? {} : { uid: user.uid, gid: user.gid };
  const environment = { ...process.env, LC_ALL: 'C', HOME: directory };
  const init = spawnSync(join(bin, 'initdb'), ['-D', dataDir, '-U', 'lightsout', '--auth=trust', '--no-sync', '-E', 'UTF8', '--no-instructions'], { encoding: 'utf8', env: environment, ...identity });
  if (init.status !== 0) {
    rmSync(directory, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}): ${init.stderr || init.error?.message}`);
  }
  const port = await freeTcpPort();
  /** One run of the server on this cluster and port: spawned, then ready (or failed); `exited` settles when it ends. */
  const launch = async (): Promise<{ server: ChildProcess; exited: Promise<void> }> => {
    // The exec shim: if the test process dies without stopping us, the kernel sends SIGTERM.
    const server: ChildProcess = spawnTied(
      join(bin, 'postgres'),
      ['-D', dataDir, '-p', String(port), '-h', '127.0.0.1', '-k', directory, '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: environment, ...identity },
    );
    let output = '';
    const exited = new Promise<void>((resolve) => {
      server.once('exit', () => resolve());
      server.once('error', (error) => {
        output += `spawn failed: ${error.message}\n`;
        resolve();
      });
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`PostgreSQL not ready after ${options.readyTimeoutMs ?? 30_000} ms: ${output.trim()}`)), options.readyTimeoutMs ?? 30_000);
        const onData = (chunk: Buffer) => {
          output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
          if (output.includes(READY_LINE)) {
            clearTimeout(timer);
            resolve();
          }
        };
        server.stdout?.on('data', onData);
        server.stderr?.on('data', onData);
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`PostgreSQL exited before it was ready: ${output.trim()}`));
        });
      });
    } catch (error) {
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGINT');
      await exited;
      throw error;
    }
    return { server, exited };
  };
  /** SIGINT is PostgreSQL's fast shutdown: open client connections do not hold it up. */
  const shutdown = async (run: { server: ChildProcess; exited: Promise<void> }): Promise<void> => {
    if (run.server.exitCode === null && run.server.signalCode === null) run.server.kill('SIGINT');
    await run.exited;
  };
  let current: { server: ChildProcess; exited: Promise<void> } | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (current !== undefined) await shutdown(current);
      rmSync(directory, { recursive: true, force: true });
    })();
    return stopping;
  };
  try {
    current = await launch();
  } catch (error) {
    await stop();
    throw error;
  }
  const url = `postgres://lightsout@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    get pid() {
      return current?.server.pid ?? -1;
    },
    async stopServer() {
      if (current === undefined) return;
      const run = current;
      current = undefined;
      await shutdown(run);
    },
    async startServer() {
      if (stopping !== undefined) throw new Error('this PostgreSQL was stopped for good');
      current ??= await launch();
    },
    async createDatabase(name: string) {
      if (!SLUG.test(name)) throw new Error(`database name ${JSON.stringify(name)} must match ${SLUG}`);
      const created = spawnSync(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'lightsout', name], { encoding: 'utf8', env: environment, timeout: 30_000 });
      if (created.status !== 0) throw new Error(`createdb ${name} failed: ${created.stderr || created.error?.message}`);
      return `postgres://lightsout@127.0.0.1:${port}/${name}`;
    },
    stop,
  };
}
