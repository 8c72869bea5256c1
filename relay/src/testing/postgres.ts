import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from '@lightsout/lab';
import pg from 'pg';

/**
 * Test-only: a throwaway PostgreSQL server (Debian `postgresql`) on a free
 * loopback port, in a temporary directory, trust auth on loopback only.
 * PostgreSQL refuses to run as root, so as root it runs as user `postgres`.
 */
export interface TestPostgres {
  url: string;
  stop(): Promise<void>;
}

function binaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const version = readdirSync(root).sort((left, right) => Number(right) - Number(left))[0];
  return version === undefined ? undefined : join(root, version, 'bin');
}

export function postgresAvailable(): boolean {
  const bin = binaries();
  return bin !== undefined && existsSync(join(bin, 'postgres')) && existsSync(join(bin, 'initdb'));
}

function asPostgresUser(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = binaries();
  if (bin === undefined) throw new Error('PostgreSQL is not installed: apt-get install postgresql');
  const directory = mkdtempSync(join(tmpdir(), 'lightsout-pg-'));
  const dataDir = join(directory, 'data');
  if (process.getuid?.() === 0) chownSync(directory, Number(spawnSync('id', ['-u', 'postgres']).stdout.toString().trim()), Number(spawnSync('id', ['-g', 'postgres']).stdout.toString().trim()));
  const [initCommand, initArgs] = asPostgresUser(join(bin, 'initdb'), ['-D', dataDir, '-U', 'lightsout', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const init = spawnSync(initCommand, initArgs, { encoding: 'utf8' });
  if (init.status !== 0) {
    rmSync(directory, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.stderr}`);
  }
  const port = await freeTcpPort();
  const [command, args] = asPostgresUser(join(bin, 'postgres'), ['-D', dataDir, '-p', String(port), '-h', '127.0.0.1', '-k', directory, '-c', 'fsync=off', '-c', 'full_page_writes=off']);
  const server: ChildProcess = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const url = `postgres://lightsout@127.0.0.1:${port}/postgres`;
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      // SIGINT = fast shutdown, sent to the postmaster itself: runuser does not forward it.
      const pidFile = join(dataDir, 'postmaster.pid');
      const postmaster = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : Number.NaN;
      if (Number.isSafeInteger(postmaster) && postmaster > 1) process.kill(postmaster, 'SIGINT');
      else server.kill('SIGINT');
    }
    await exited;
    rmSync(directory, { recursive: true, force: true });
  };
  // Ready when it accepts a query; bounded by the deadline.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('select 1');
      await client.end();
      return { url, stop };
    } catch {
      await client.end().catch(() => undefined);
    }
    if (server.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`PostgreSQL did not start: ${stderr}`);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 100);
      server.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
