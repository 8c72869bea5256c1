import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LightsoutError } from '@lightsout/shared';
import { AtRestKey, rewriteFreedPages } from '../store/at-rest-key.js';
import type { StoreDriver } from '../store/migrations.js';
import type { Store } from '../store/open.js';

/**
 * The deployment's private signing keys, one JSON document per key ring
 * (table signing_keys), so that every replica on the store signs with, and
 * accepts, the same keys: a token issued through one replica is valid on all
 * of them. Each document is sealed with the deployment's at-rest key
 * (store/at-rest-key.ts, a file outside the database that every replica
 * reads), bound to its ring's name: reading the database or its backups
 * yields no key that signs.
 */
export interface KeyDocument {
  document: string;
  version: number;
}

export interface KeyDocuments {
  read(name: string): Promise<KeyDocument | undefined>;
  /** Store `document` as version 1 unless the ring exists; returns what is stored afterwards (ours, or the first writer's). */
  create(name: string, document: string): Promise<KeyDocument>;
  /** Replace the ring iff it is still at `version`; false when another replica replaced it first. */
  replace(name: string, version: number, document: string): Promise<boolean>;
}

const purpose = (name: string) => `lightsout-signing-keys:${name}`;

export function storeKeyDocuments(store: Store, key: AtRestKey, now: () => number = Date.now): KeyDocuments {
  const read = async (name: string): Promise<KeyDocument | undefined> => {
    const row = await store.selectFrom('signing_keys').select(['document', 'version']).where('name', '=', name).executeTakeFirst();
    return row === undefined ? undefined : { document: openDocument(key, name, row.document), version: Number(row.version) };
  };
  return {
    read,
    async create(name, document) {
      await store
        .insertInto('signing_keys')
        .values({ name, document: key.seal(purpose(name), document), version: 1, updated_at: now() })
        .onConflict((conflict) => conflict.column('name').doNothing())
        .execute();
      const stored = await read(name);
      if (stored === undefined) throw new Error(`signing key ring ${name} vanished right after it was stored`);
      return stored;
    },
    async replace(name, version, document) {
      const result = await store
        .updateTable('signing_keys')
        .set({ document: key.seal(purpose(name), document), version: version + 1, updated_at: now() })
        .where('name', '=', name)
        .where('version', '=', version)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

/** A ring as stored: sealed, or (written before rings were sealed, until the startup seals it) clear JSON. */
function openDocument(key: AtRestKey, name: string, stored: string): string {
  if (!AtRestKey.isSealed(stored)) return stored;
  const document = key.open(purpose(name), stored);
  if (document === undefined) {
    throw new LightsoutError('CONFIG_INVALID', `the signing key ring "${name}" in the store was sealed with another at-rest key`, {
      hint: 'every replica of a deployment needs the same identity.totpKeyFile (LIGHTSOUT_RELAY__IDENTITY__TOTP_KEY_FILE)',
    });
  }
  return document;
}

/**
 * Seal the rings an earlier version stored in clear, keeping each key (so
 * every token issued before the upgrade stays valid) and its version (a
 * replica's compare-and-swap is not disturbed), then compact the store so
 * the clear bytes do not linger in free pages. Idempotent, safe for replicas
 * starting at once (each row is replaced only while it still holds the clear
 * text). Returns the rings sealed.
 */
export async function sealClearKeyDocuments(store: Store, key: AtRestKey, driver: StoreDriver): Promise<string[]> {
  const rows = await store.selectFrom('signing_keys').select(['name', 'document']).execute();
  const sealed: string[] = [];
  for (const row of rows.filter((entry) => !AtRestKey.isSealed(entry.document))) {
    const result = await store.updateTable('signing_keys').set({ document: key.seal(purpose(row.name), row.document) }).where('name', '=', row.name).where('document', '=', row.document).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 1) sealed.push(row.name);
  }
  if (sealed.length > 0) await rewriteFreedPages(store, driver, 'signing_keys');
  return sealed;
}

/** Test-only and for tools: the same contract in memory. */
export function memoryKeyDocuments(): KeyDocuments {
  const rings = new Map<string, KeyDocument>();
  return {
    async read(name) {
      return rings.get(name);
    },
    async create(name, document) {
      if (!rings.has(name)) rings.set(name, { document, version: 1 });
      return rings.get(name)!;
    },
    async replace(name, version, document) {
      if (rings.get(name)?.version !== version) return false;
      rings.set(name, { document, version: version + 1 });
      return true;
    },
  };
}

/**
 * Earlier versions kept a ring in a dataDir file (0600). On the first start
 * with the store holding none, the first of `files` that exists is what to
 * import, so an existing install keeps its tokens valid across the upgrade.
 */
export function legacyKeyFile(dataDir: string | undefined, files: string[]): { path: string; text: string } | undefined {
  if (dataDir === undefined) return undefined;
  for (const file of files) {
    const path = join(dataDir, file);
    if (existsSync(path)) return { path, text: readFileSync(path, 'utf8') };
  }
  return undefined;
}

/** Once the store holds the keys, the files are one more copy of a private key to leak: gone. */
export function removeLegacyKeyFiles(dataDir: string | undefined, files: string[]): void {
  if (dataDir === undefined) return;
  for (const file of files) rmSync(join(dataDir, file), { force: true });
}
