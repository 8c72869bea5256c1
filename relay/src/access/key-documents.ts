import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../store/open.js';

/**
 * The deployment's private signing keys, one JSON document per key ring
 * (table signing_keys), so that every replica on the store signs with, and
 * accepts, the same keys: a token issued through one replica is valid on all
 * of them. Whoever can read the store can read these keys; they are as
 * secret as the database and its backups (docs/security.md).
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

export function storeKeyDocuments(store: Store, now: () => number = Date.now): KeyDocuments {
  const read = async (name: string): Promise<KeyDocument | undefined> => {
    const row = await store.selectFrom('signing_keys').select(['document', 'version']).where('name', '=', name).executeTakeFirst();
    return row === undefined ? undefined : { document: row.document, version: Number(row.version) };
  };
  return {
    read,
    async create(name, document) {
      await store
        .insertInto('signing_keys')
        .values({ name, document, version: 1, updated_at: now() })
        .onConflict((conflict) => conflict.column('name').doNothing())
        .execute();
      const stored = await read(name);
      if (stored === undefined) throw new Error(`signing key ring ${name} vanished right after it was stored`);
      return stored;
    },
    async replace(name, version, document) {
      const result = await store
        .updateTable('signing_keys')
        .set({ document, version: version + 1, updated_at: now() })
        .where('name', '=', name)
        .where('version', '=', version)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
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
