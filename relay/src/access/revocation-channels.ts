import { sql } from 'kysely';
import { ListenConnection } from '../store/listen-connection.js';
import type { Store } from '../store/open.js';
import { REMEMBER_MS, type RevocationChannel, type RevocationNotice } from './revocations.js';

/** The PostgreSQL NOTIFY channel every relay on the database LISTENs on. */
export const NOTIFY_CHANNEL = 'lightsout_revocations';

interface Logger {
  warn(object: object, message: string): void;
  info(object: object, message: string): void;
}

/** Notices are kept in the store as long as they matter: a restarted relay still refuses an old resume token. */
async function storeNotice(store: Store, notice: RevocationNotice): Promise<void> {
  await store.insertInto('revocations').values({ id: notice.id, notice: JSON.stringify(notice), at: notice.at }).onConflict((conflict) => conflict.column('id').doNothing()).execute();
  await store.deleteFrom('revocations').where('at', '<', Date.now() - REMEMBER_MS).execute();
}

async function recentNotices(store: Store, since: number): Promise<RevocationNotice[]> {
  const rows = await store.selectFrom('revocations').select('notice').where('at', '>=', since).orderBy('at').execute();
  return rows.map((row) => JSON.parse(row.notice) as RevocationNotice);
}

/**
 * SQLite: one relay process owns the file, so hearing is local (the
 * Revocations object already acted); the store keeps recent notices for
 * the next start.
 */
export class SqliteRevocationChannel implements RevocationChannel {
  constructor(private readonly store: Store) {}

  publish(notice: RevocationNotice): Promise<void> {
    return storeNotice(this.store, notice);
  }

  async start(deliver: (notice: RevocationNotice) => void): Promise<void> {
    for (const notice of await recentNotices(this.store, Date.now() - REMEMBER_MS)) deliver(notice);
  }

  async close(): Promise<void> {}
}

/**
 * PostgreSQL: each notice is stored, then NOTIFY'd (PostgreSQL docs,
 * "NOTIFY": delivered to every session LISTENing on the channel, once the
 * sending transaction commits). Each relay holds one dedicated connection
 * that LISTENs; when it drops, the relay reconnects with backoff and
 * re-reads what was stored since shortly before the drop, so a notice sent
 * while it was deaf still arrives.
 *
 *   idle ─start─▶ connecting ─▶ listening ─drop─▶ waiting ─timer─▶ connecting …
 *                                    └──────────close──────────▶ closed
 */
export class PostgresRevocationChannel implements RevocationChannel {
  private deliver: ((notice: RevocationNotice) => void) | undefined;
  /** Everything at or after this was heard (or re-read); a reconnect re-reads from here. */
  private heardUntil = Date.now() - REMEMBER_MS;
  private readonly connection: ListenConnection;

  constructor(
    private readonly store: Store,
    connectionString: string,
    log: Logger,
  ) {
    let readFrom = this.heardUntil;
    let connectedAt = Date.now();
    this.connection = new ListenConnection({
      connectionString,
      what: 'revocation',
      log,
      onNotification: (message) => {
        if (message.channel !== NOTIFY_CHANNEL || message.payload === undefined) return;
        try {
          this.deliver?.(JSON.parse(message.payload) as RevocationNotice);
        } catch (error) {
          log.warn({ err: error }, 'malformed revocation notice ignored');
        }
      },
      listen: async (client) => {
        readFrom = this.heardUntil;
        connectedAt = Date.now();
        await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
      },
      // Listening now: what was stored while we were not (with a margin for clock skew between relays) is read once.
      caughtUp: async () => {
        for (const notice of await recentNotices(this.store, readFrom - 5000)) this.deliver?.(notice);
        this.heardUntil = connectedAt;
      },
    });
  }

  async publish(notice: RevocationNotice): Promise<void> {
    await this.store.transaction().execute(async (transaction) => {
      await transaction.insertInto('revocations').values({ id: notice.id, notice: JSON.stringify(notice), at: notice.at }).execute();
      // pg_notify takes the channel as a value (NOTIFY would need it as an identifier); payloads stay far under 8000 bytes.
      await sql`select pg_notify(${NOTIFY_CHANNEL}, ${JSON.stringify(notice)})`.execute(transaction);
    });
    await this.store.deleteFrom('revocations').where('at', '<', Date.now() - REMEMBER_MS).execute();
  }

  /** Resolves once LISTEN is in place (first connection); later drops reconnect in the background. */
  async start(deliver: (notice: RevocationNotice) => void): Promise<void> {
    this.deliver = deliver;
    await this.connection.start();
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
