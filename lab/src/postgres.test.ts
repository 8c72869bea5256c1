import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { postgresBinDirectory, startPostgres } from './postgres.js';

function psql(url: string, query: string): string {
  const result = spawnSync(`${postgresBinDirectory()}/psql`, [url, '-XAtc', query], { encoding: 'utf8', timeout: 15_000 });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout.trim();
}

describe('startPostgres', () => {
  it('runs a real PostgreSQL on a free loopback port, as a non-root user, and stop() ends exactly it', async () => {
    const peer = await startPostgres();
    let stopped = false;
    try {
      expect(psql(peer.url, 'select 40 + 2')).toBe('42');
      expect(psql(peer.url, "select current_setting('listen_addresses')")).toBe('127.0.0.1');
      const url = await peer.createDatabase('isolated_one');
      psql(url, 'create table marker (id text)');
      expect(psql(peer.url, "select count(*) from pg_tables where tablename = 'marker'")).toBe('0');
      expect(psql(url, "select count(*) from pg_tables where tablename = 'marker'")).toBe('1');
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${peer.pid}/status`, 'utf8'))?.[1];
      expect(Number(uid)).not.toBe(0);
      await peer.stop();
      stopped = true;
      expect(existsSync(`/proc/${peer.pid}`)).toBe(false);
      await peer.stop(); // idempotent
    } finally {
      if (!stopped) await peer.stop();
    }
  }, 60_000);
});
