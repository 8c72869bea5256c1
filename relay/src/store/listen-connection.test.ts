import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { waitFor } from '@lightsout/lab/wait';
import { postgresForThisFile } from '../testing/dialects.js';
import { ListenConnection } from './listen-connection.js';

/**
 * The LISTEN connection against a real PostgreSQL, closed while it is still
 * catching up: it must not come up after close (no live connection, no
 * "restored", no session left on the server).
 */
const postgres = postgresForThisFile();
const quiet = { warn: () => undefined, info: () => undefined };

async function sessionsNamed(name: string): Promise<number> {
  const client = new pg.Client({ connectionString: postgres().url });
  await client.connect();
  try {
    const result = await client.query<{ count: string }>('select count(*) from pg_stat_activity where application_name = $1', [name]);
    return Number(result.rows[0]!.count);
  } finally {
    await client.end();
  }
}

/** A caughtUp that holds each call until released. */
function heldCatchUp(): { caughtUp(): Promise<void>; calls: number; release(): void } {
  const waiting: (() => void)[] = [];
  const held = {
    calls: 0,
    caughtUp: () => {
      held.calls += 1;
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    release: () => waiting.splice(0).forEach((resolve) => resolve()),
  };
  return held;
}

describe('ListenConnection', () => {
  it('closed during its first catch-up, does not come up after', async () => {
    const name = 'lightsout-listen-test-first';
    const held = heldCatchUp();
    const connection = new ListenConnection({ connectionString: postgres().url, applicationName: name, what: 'test', log: quiet, onNotification: () => undefined, listen: (client) => client.query('LISTEN test_first').then(() => undefined), caughtUp: held.caughtUp });
    const started = connection.start();
    await waitFor('the catch-up to begin', () => held.calls === 1, { timeoutMs: 5000, intervalMs: 5 });
    const closing = connection.close();
    held.release();
    await Promise.all([closing, started]);
    expect(connection.live).toBeUndefined();
    expect(await sessionsNamed(name)).toBe(0);
  });

  it('closed during a reconnect’s catch-up, says nothing was restored and leaves no session', async () => {
    const name = 'lightsout-listen-test-again';
    const held = heldCatchUp();
    let restored = 0;
    let first = true;
    const connection = new ListenConnection({
      connectionString: postgres().url,
      applicationName: name,
      what: 'test',
      log: quiet,
      onNotification: () => undefined,
      listen: (client) => client.query('LISTEN test_again').then(() => undefined),
      // The first connection catches up at once; the reconnect is held.
      caughtUp: () => (first ? ((first = false), Promise.resolve()) : held.caughtUp()),
      onRestored: () => (restored += 1),
    });
    await connection.start();
    expect(connection.live).toBeDefined();
    const killer = new pg.Client({ connectionString: postgres().url });
    await killer.connect();
    await killer.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1', [name]);
    await killer.end();
    await waitFor('the reconnect to catch up', () => held.calls === 1, { timeoutMs: 10_000, intervalMs: 5 });
    // close() resolves once the attempt in flight is over too
    const closing = connection.close();
    held.release();
    await closing;
    expect(connection.live).toBeUndefined();
    expect(restored).toBe(0);
    expect(await sessionsNamed(name)).toBe(0);
  });

  it('closed while a catch-up hangs, closes anyway after its wait, its connection ended', async () => {
    const name = 'lightsout-listen-test-hung';
    const held = heldCatchUp();
    const connection = new ListenConnection({ connectionString: postgres().url, applicationName: name, what: 'test', log: quiet, onNotification: () => undefined, listen: (client) => client.query('LISTEN test_hung').then(() => undefined), caughtUp: held.caughtUp, closeWaitMs: 50 });
    void connection.start().catch(() => undefined);
    await waitFor('the catch-up to begin', () => held.calls === 1, { timeoutMs: 5000, intervalMs: 5 });
    // never released: close() must not wait for it
    await connection.close();
    expect(connection.live).toBeUndefined();
    expect(await sessionsNamed(name)).toBe(0);
  });
});
