import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PostgresPeer, postgresInstalled, startPostgres } from '@lightsout/lab';
import { afterAll, beforeAll } from 'vitest';
import { type Store, openStore } from '../store/open.js';

/**
 * Test-only: a real PostgreSQL for the calling test file, started in its
 * beforeAll and stopped in its afterAll (this registers both hooks). The
 * getter fails with a message saying what to install where PostgreSQL is
 * missing: cases that need it fail, they are never skipped.
 */
export function postgresForThisFile(): () => PostgresPeer {
  let postgres: PostgresPeer | undefined;
  beforeAll(async () => {
    if (postgresInstalled()) postgres = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await postgres?.stop();
  });
  return () => {
    if (postgres === undefined) throw new Error('PostgreSQL is not installed here (apt-get install postgresql); this must be tested on it');
    return postgres;
  };
}

/** A dialect's name and how to open a store on it (each call a new connection to the same database). */
export type StoreDialect = [name: 'sqlite' | 'postgres', open: () => Promise<Store>];

/**
 * Test-only: the store on both dialects, for code that must behave the same
 * on each (one migration set, one behaviour). SQLite lives in a scratch
 * directory; a real PostgreSQL is started once for the calling test file
 * (postgresForThisFile).
 */
export function storeDialects(prefix: string): StoreDialect[] {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  const postgres = postgresForThisFile();
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  return [
    ['sqlite', () => openStore({ dataDir: join(directory, 'sqlite'), store: { driver: 'sqlite', sqliteFile: 'relay.sqlite' } })],
    [
      'postgres',
      () => openStore({ dataDir: directory, store: { driver: 'postgres', sqliteFile: 'unused', postgresUrl: postgres().url } }),
    ],
  ];
}
