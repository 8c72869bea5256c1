import { sql } from 'kysely';
import pg from 'pg';
import type { Store } from '../store/open.js';
import { REMEMBER_MS, type RevocationChannel, type RevocationNotice } from './revocations.js';

/** The PostgreSQL NOTIFY channel every relay on the database LISTENs on. */
export const NOTIFY_CHANNEL = 'lightsout_revocations';
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;

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
  private client: pg.Client | undefined;
  private deliver: ((notice: RevocationNotice) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private attempt = 0;
  /** Everything at or after this was heard (or re-read); a reconnect re-reads from here. */
  private heardUntil = Date.now() - REMEMBER_MS;

  constructor(
    private readonly store: Store,
    private readonly connectionString: string,
    private readonly log: Logger,
  ) {}

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
    await this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString });
    const readFrom = this.heardUntil;
    const connectedAt = Date.now();
    let listening = false;
    client.on('notification', (message) => {
      if (message.channel !== NOTIFY_CHANNEL || message.payload === undefined) return;
      try {
        this.deliver?.(JSON.parse(message.payload) as RevocationNotice);
      } catch (error) {
        this.log.warn({ err: error }, 'malformed revocation notice ignored');
      }
    });
    // An 'error' without a listener would end the process; before LISTEN is in place the failure is connect()'s to report.
    client.on('error', (error) => listening && this.dropped(client, error));
    client.on('end', () => listening && this.dropped(client, new Error('connection ended')));
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
      listening = true;
      // Listening now: what was stored while we were not (with a margin for clock skew between relays) is read once.
      for (const notice of await recentNotices(this.store, readFrom - 5000)) this.deliver?.(notice);
    } catch (error) {
      listening = false;
      if (this.client === client) this.client = undefined;
      await client.end().catch(() => undefined);
      throw error;
    }
    this.heardUntil = connectedAt;
    this.attempt = 0;
  }

  private dropped(client: pg.Client, error: Error): void {
    if (this.closed || this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('notification');
    void client.end().catch(() => undefined);
    this.log.warn({ err: error }, 'revocation LISTEN connection lost; reconnecting');
    this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.attempt);
    this.attempt += 1;
    this.timer = setTimeout(() => {
      this.connect().then(
        () => this.log.info({}, 'revocation LISTEN connection restored'),
        (error: unknown) => {
          this.log.warn({ err: error }, 'revocation LISTEN reconnect failed');
          this.schedule();
        },
      );
    }, delay);
    this.timer.unref();
  }
}
