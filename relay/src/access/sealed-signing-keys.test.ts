import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freeTcpPort } from '@lightsout/lab';
import { scratchDirectories } from '@lightsout/lab/scratch';
import { type ProviderSecrets, readProviderSecrets } from '../identity/keys.js';
import { AtRestKey } from '../store/at-rest-key.js';
import { type Store, openStore } from '../store/open.js';
import { storeDialects } from '../testing/dialects.js';
import { type RunningRelay, loginWithPassword, startRelay } from '../testing/index.js';
import { sealClearKeyDocuments, storeKeyDocuments } from './key-documents.js';

/**
 * The deployment's signing keys (the OP's, the stream-token ring) live in
 * the store so every replica signs with them, sealed with the at-rest key
 * (a file outside the database): a copy of the database holds no key that
 * signs. A store written before they were sealed is sealed at startup with
 * every key kept, so tokens issued before the upgrade stay valid.
 */
const scratch = scratchDirectories('lightsout-sealed-keys-');
afterEach(scratch.removeAll);

/** Every file of the SQLite store (main file, WAL, shared memory) as one string: what a copy of it would show. */
function storeBytes(dataDir: string): string {
  return readdirSync(dataDir)
    .filter((name) => name.startsWith('relay.sqlite'))
    .map((name) => readFileSync(join(dataDir, name)).toString('latin1'))
    .join('\n');
}

const privateParts = (secrets: ProviderSecrets) => secrets.jwks.keys.map((key: JWK) => key.d!).concat(secrets.cookieKeys);

describe('signing keys sealed at rest', () => {
  it('a relay stores every ring sealed: no private key in the rows or the database files', async () => {
    const relay = await startRelay({ dataDir: scratch.make() });
    try {
      const rows = await relay.app.store.selectFrom('signing_keys').select(['name', 'document']).orderBy('name').execute();
      expect(rows.map((row) => row.name)).toEqual(['oidc', 'stream']);
      for (const row of rows) expect(row.document).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
      const secrets = (await readProviderSecrets(relay.app.keyDocuments))!;
      const stream = JSON.parse((await relay.app.keyDocuments.read('stream'))!.document) as { keys: Array<{ jwk: JWK }> };
      const secretsOfBoth = [...privateParts(secrets), ...stream.keys.map((key) => key.jwk.d!)];
      expect(secretsOfBoth.length).toBeGreaterThanOrEqual(4);
      const bytes = storeBytes(relay.dataDir);
      for (const secret of secretsOfBoth) expect(bytes).not.toContain(secret);
    } finally {
      await relay.close();
    }
  });

  it('an upgrade over clear rings seals them, keeps every key, and tokens issued before stay valid', async () => {
    const dataDir = scratch.make();
    // The same port: the issuer and audience derive from the relay's URL.
    const port = await freeTcpPort();
    let relay: RunningRelay = await startRelay({ dataDir, port });
    let accessToken: string;
    let clear: Array<{ name: string; document: string }>;
    let jwksBefore: unknown;
    try {
      accessToken = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
      jwksBefore = await (await fetch(`${relay.url}/v1/gateway/jwks.json`)).json();
      clear = await Promise.all(['oidc', 'stream'].map(async (name) => ({ name, document: (await relay.app.keyDocuments.read(name))!.document })));
    } finally {
      await relay.close();
    }
    // What an earlier version left: the same rings, in clear.
    const old: Store = await openStore({ dataDir, store: { driver: 'sqlite', sqliteFile: 'relay.sqlite' } });
    for (const ring of clear) await old.updateTable('signing_keys').set({ document: ring.document }).where('name', '=', ring.name).execute();
    await old.destroy();
    const secrets = JSON.parse(clear[0]!.document) as ProviderSecrets;
    expect(storeBytes(dataDir)).toContain(secrets.jwks.keys[0]!.d!);

    relay = await startRelay({ dataDir, port });
    try {
      const rows = await relay.app.store.selectFrom('signing_keys').select(['name', 'document', 'version']).orderBy('name').execute();
      for (const row of rows) expect(row.document).toMatch(/^v1\./);
      for (const ring of clear) expect((await relay.app.keyDocuments.read(ring.name))!.document).toBe(ring.document);
      for (const secret of privateParts(secrets)) expect(storeBytes(dataDir)).not.toContain(secret);
      const me = await fetch(`${relay.url}/v1/me`, { headers: { authorization: `Bearer ${accessToken}` } });
      expect(me.status).toBe(200);
      expect(await (await fetch(`${relay.url}/v1/gateway/jwks.json`)).json()).toEqual(jwksBefore);
    } finally {
      await relay.close();
    }
  });

  it('a relay with another at-rest key refuses to start on sealed rings (CONFIG_INVALID), naming the setting', async () => {
    const dataDir = scratch.make();
    await (await startRelay({ dataDir })).close();
    await expect(startRelay({ dataDir, config: { identity: { totpKeyFile: join(scratch.make(), 'other.key') } } as never })).rejects.toMatchObject({ code: 'CONFIG_INVALID', hint: expect.stringContaining('identity.totpKeyFile') });
  });
});

describe.each(storeDialects('lightsout-sealed-rings-'))('clear rings sealed in place on %s', (dialect, open) => {
  const stores: Store[] = [];
  afterAll(async () => {
    for (const store of stores) await store.destroy();
  });

  it('seals each clear ring once, keeping its version; a replica racing the same upgrade changes nothing', async () => {
    const store = await open();
    stores.push(store);
    const key = AtRestKey.loadOrCreate(join(scratch.make(), 'at-rest.key'));
    await store.insertInto('signing_keys').values({ name: 'ring-a', document: '{"keys":[{"d":"clear-private-a"}]}', version: 7, updated_at: 1 }).execute();
    const [first, second] = await Promise.all([sealClearKeyDocuments(store, key, dialect), sealClearKeyDocuments(store, key, dialect)]);
    expect([...first, ...second]).toEqual(['ring-a']);
    const row = await store.selectFrom('signing_keys').select(['document', 'version']).where('name', '=', 'ring-a').executeTakeFirstOrThrow();
    expect(row.document).not.toContain('clear-private-a');
    expect(Number(row.version)).toBe(7);
    expect(await storeKeyDocuments(store, key).read('ring-a')).toEqual({ document: '{"keys":[{"d":"clear-private-a"}]}', version: 7 });
    expect(await sealClearKeyDocuments(store, key, dialect)).toEqual([]);
  });
});
