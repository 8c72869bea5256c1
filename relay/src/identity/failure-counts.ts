import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Store } from '../store/open.js';
import type { FailureCounts, Failures } from './login-throttle.js';

/**
 * The sign-in throttle's failure counts in the store (table login_failures),
 * so a guesser who spreads attempts over the replicas of a deployment meets
 * one count, and a restart forgets nothing. A failure is one upsert that
 * increments in the database (or starts again at 1 when the old count is
 * forgotten): replicas counting the same key at once lose no failure.
 * Rows are keyed by the SHA-256 of the throttle key: what someone typed as
 * a username (a password, now and then) is not kept at rest.
 */
function rowKey(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}

export class StoreFailureCounts implements FailureCounts {
  constructor(private readonly store: Store) {}

  async read(keys: string[]): Promise<Map<string, Failures>> {
    if (keys.length === 0) return new Map();
    const byRow = new Map(keys.map((key) => [rowKey(key), key]));
    const rows = await this.store.selectFrom('login_failures').select(['key', 'count', 'last_at', 'locked_until']).where('key', 'in', [...byRow.keys()]).execute();
    return new Map(rows.map((row) => [byRow.get(row.key)!, { count: Number(row.count), lastAt: Number(row.last_at), lockedUntil: Number(row.locked_until) }]));
  }

  async add(key: string, now: number, forgetBefore: number): Promise<Failures> {
    // SET expressions read the row as it was before the update, on PostgreSQL and on SQLite alike.
    const forgotten = sql<boolean>`login_failures.last_at < ${forgetBefore} and login_failures.locked_until <= ${now}`;
    const row = await this.store
      .insertInto('login_failures')
      .values({ key: rowKey(key), count: 1, last_at: now, locked_until: 0 })
      .onConflict((conflict) =>
        conflict.column('key').doUpdateSet({
          count: sql<number>`case when ${forgotten} then 1 else login_failures.count + 1 end`,
          locked_until: sql<number>`case when ${forgotten} then 0 else login_failures.locked_until end`,
          last_at: now,
        }),
      )
      .returning(['count', 'last_at', 'locked_until'])
      .executeTakeFirstOrThrow();
    return { count: Number(row.count), lastAt: Number(row.last_at), lockedUntil: Number(row.locked_until) };
  }

  async lock(key: string, until: number): Promise<void> {
    await this.store.updateTable('login_failures').set({ locked_until: until }).where('key', '=', rowKey(key)).where('locked_until', '<', until).execute();
  }

  async clear(key: string): Promise<void> {
    await this.store.deleteFrom('login_failures').where('key', '=', rowKey(key)).execute();
  }

  /** Drop the keys nobody would read any more (forgotten and not locked): the table stays as small as the guessing of the last `forgetMs`. */
  async prune(now: number, forgetMs: number): Promise<number> {
    const result = await this.store.deleteFrom('login_failures').where('last_at', '<', now - forgetMs).where('locked_until', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
