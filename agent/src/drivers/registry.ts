import type { Logger } from 'pino';
import type { IpmiEndpoint, RedfishEndpoint, ServerEntry } from '../config/types.js';
import type { BmcDriver } from './types.js';

/** What every driver factory receives besides its endpoint. */
export interface DriverContext {
  serverId: string;
  /** A child logger bound to the server; credentials are redacted by the root logger. */
  logger: Logger;
}

/**
 * One factory per protocol. A factory builds the driver for ONE server from
 * that server's resolved endpoint (credentials already read from env/file).
 * Factories are closures, so a protocol can share a pool (e.g. a bounded
 * number of IPMI sessions) across all the drivers it builds.
 */
export interface DriverFactories {
  ipmi?: (endpoint: IpmiEndpoint, context: DriverContext) => BmcDriver;
  redfish?: (endpoint: RedfishEndpoint, context: DriverContext) => BmcDriver;
}

/** When a server has both, IPMI is asked first: it is the protocol every BMC speaks. */
export const PROTOCOL_PREFERENCE = ['ipmi', 'redfish'] as const;

/**
 * The per-server driver table. A driver is built on first use and kept for
 * the agent's life (sessions are expensive to set up); a server with no
 * endpoint the agent has a factory for has no driver, and the dispatcher
 * answers BMC_UNSUPPORTED for it.
 */
export class DriverRegistry {
  readonly #servers: Map<string, ServerEntry>;
  readonly #factories: DriverFactories;
  readonly #logger: Logger;
  readonly #drivers = new Map<string, BmcDriver>();
  #closed = false;

  constructor(servers: readonly ServerEntry[], factories: DriverFactories, logger: Logger) {
    this.#servers = new Map(servers.map((server) => [server.id, server]));
    this.#factories = factories;
    this.#logger = logger;
  }

  /**
   * Adds a server, or replaces one whose endpoints changed (an adopted BMC found at a new address): the
   * old driver is closed and the next call builds one for the new endpoints.
   */
  setServer(server: ServerEntry): void {
    this.#servers.set(server.id, server);
    const previous = this.#drivers.get(server.id);
    if (previous === undefined) return;
    this.#drivers.delete(server.id);
    previous.close().catch((error: unknown) => this.#logger.warn({ serverId: server.id, err: error }, 'driver close failed'));
  }

  hasServer(serverId: string): boolean {
    return this.#servers.has(serverId);
  }

  /** Which protocol would serve this server, without building anything. */
  protocolFor(serverId: string): 'ipmi' | 'redfish' | undefined {
    const server = this.#servers.get(serverId);
    if (server === undefined) return undefined;
    return PROTOCOL_PREFERENCE.find((protocol) => server[protocol] !== undefined && this.#factories[protocol] !== undefined);
  }

  /** The server's driver, built on first call; undefined when no factory fits. */
  driverFor(serverId: string): BmcDriver | undefined {
    if (this.#closed) return undefined;
    const existing = this.#drivers.get(serverId);
    if (existing) return existing;
    const server = this.#servers.get(serverId);
    const protocol = this.protocolFor(serverId);
    if (server === undefined || protocol === undefined) return undefined;
    const context: DriverContext = { serverId, logger: this.#logger.child({ serverId, protocol }) };
    const driver = protocol === 'ipmi' ? this.#factories.ipmi!(server.ipmi!, context) : this.#factories.redfish!(server.redfish!, context);
    this.#drivers.set(serverId, driver);
    return driver;
  }

  /** Closes every driver built so far; later calls to driverFor return undefined. */
  async close(): Promise<void> {
    this.#closed = true;
    const drivers = [...this.#drivers.entries()];
    this.#drivers.clear();
    const results = await Promise.allSettled(drivers.map(([, driver]) => driver.close()));
    for (const [index, result] of results.entries()) {
      if (result.status === 'rejected') this.#logger.warn({ serverId: drivers[index]![0], err: result.reason }, 'driver close failed');
    }
  }
}
