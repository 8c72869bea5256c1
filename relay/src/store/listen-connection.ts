import pg from 'pg';
import { settledWithin } from '../settled-within.js';

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;
/**
 * How long close() waits for an attempt in flight. Its catch-up reads
 * through the store's pool, which a PostgreSQL that drops packets can hold
 * for minutes (TCP connect): a shutdown must not wait for that. An attempt
 * that finishes later still ends its own connection (connectOnce).
 */
const CLOSE_WAIT_MS = 2000;

interface Logger {
  warn(object: object, message: string): void;
  info(object: object, message: string): void;
}

export interface ListenConnectionOptions {
  connectionString: string;
  /** Shown in pg_stat_activity, so an operator (or a test) can tell which connection this is. */
  applicationName?: string;
  /** Names the connection in log lines ("cluster bus", "revocation"). */
  what: string;
  log: Logger;
  onNotification(message: pg.Notification): void;
  /** LISTEN on what is wanted now; runs on every connection, before it counts as up. */
  listen(client: pg.Client): Promise<void>;
  /** Once LISTEN is in place: read what was missed while not listening. A failure fails the connection. */
  caughtUp?(): Promise<void>;
  /** How long close() waits for an attempt in flight (default CLOSE_WAIT_MS). */
  closeWaitMs?: number;
  /** The live connection was lost (a reconnect is scheduled). */
  onDropped?(): void;
  /** A reconnect succeeded (not called for the first connection). */
  onRestored?(): void;
}

/**
 * One dedicated PostgreSQL connection that LISTENs (a pooled connection
 * cannot: LISTEN belongs to the session). A lost connection is replaced with
 * exponential backoff, 100 ms doubling up to 5 s, and LISTENs again; what
 * the owner missed meanwhile is its own to read (`caughtUp`).
 *
 *   idle ─start─▶ connecting ─▶ up ─drop─▶ waiting ─timer─▶ connecting …
 *                               └──────close──────▶ closed
 */
export class ListenConnection {
  private client: pg.Client | undefined;
  private up = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private attempt = 0;
  /** The latest connect attempt: close() waits for it (at once when it is over). */
  private connecting: Promise<boolean> | undefined;

  constructor(private readonly options: ListenConnectionOptions) {}

  /** The connection while it is up (its LISTENs in place), for LISTEN/UNLISTEN changes. */
  get live(): pg.Client | undefined {
    return this.up ? this.client : undefined;
  }

  /** Resolves once the first connection is up (or closed meanwhile); later drops reconnect in the background. */
  async start(): Promise<void> {
    await this.connect();
  }

  /** Ends the connection; resolves once an attempt in flight has ended too (nothing of it is left), or after CLOSE_WAIT_MS. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    this.up = false;
    await client?.end().catch(() => undefined);
    if (this.connecting !== undefined) await settledWithin(this.connecting, this.options.closeWaitMs ?? CLOSE_WAIT_MS);
  }

  /** Connects and LISTENs; false when close() came first (the new connection is ended, nothing is up). */
  private connect(): Promise<boolean> {
    this.connecting = this.connectOnce();
    return this.connecting;
  }

  private async connectOnce(): Promise<boolean> {
    const { options } = this;
    const client = new pg.Client({ connectionString: options.connectionString, ...(options.applicationName === undefined ? {} : { application_name: options.applicationName }) });
    let listening = false;
    client.on('notification', (message) => options.onNotification(message));
    // An 'error' without a listener would end the process; before LISTEN is in place the failure is connect()'s to report.
    client.on('error', (error) => listening && this.dropped(client, error));
    client.on('end', () => listening && this.dropped(client, new Error('connection ended')));
    this.client = client;
    try {
      await client.connect();
      await options.listen(client);
      listening = true;
      // No await when there is nothing to read: a LISTEN change asked for meanwhile must find the connection up (see PostgresBus).
      if (options.caughtUp !== undefined) await options.caughtUp();
      // Closed while connecting or catching up: close() ended this client; it must not come up after.
      if (this.closed || this.client !== client) {
        listening = false;
        await client.end().catch(() => undefined);
        return false;
      }
      this.up = true;
    } catch (error) {
      listening = false;
      if (this.client === client) this.client = undefined;
      await client.end().catch(() => undefined);
      throw error;
    }
    this.attempt = 0;
    return true;
  }

  private dropped(client: pg.Client, error: Error): void {
    if (this.closed || this.client !== client) return;
    this.client = undefined;
    this.up = false;
    this.options.onDropped?.();
    client.removeAllListeners('notification');
    void client.end().catch(() => undefined);
    this.options.log.warn({ err: error }, `${this.options.what} LISTEN connection lost; reconnecting`);
    this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.attempt);
    this.attempt += 1;
    this.timer = setTimeout(() => {
      this.connect().then(
        (restored) => {
          if (!restored) return;
          this.options.log.info({}, `${this.options.what} LISTEN connection restored`);
          this.options.onRestored?.();
        },
        (error: unknown) => {
          this.options.log.warn({ err: error }, `${this.options.what} LISTEN reconnect failed`);
          this.schedule();
        },
      );
    }, delay);
    this.timer.unref();
  }
}
