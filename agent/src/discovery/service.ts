import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Value } from 'typebox/value';
import {
  CONTROL_MAX_DISCOVERED_PER_FRAME, CONTROL_PROTOCOL_VERSION, DiscoveryAdoptParams, identityOf, LightsoutError,
  type DiscoveredBmc, type DiscoveredMessage, type DiscoveryAdoptResult, type DiscoveryScanResult,
} from '@lightsout/shared';
import type { CredentialSet, DiscoveryConfig, ServerEntry } from '../config/types.js';
import type { OperationHandlers } from '../control/dispatcher.js';
import { adoptedFrom, type AdoptedServers, credentialSetRefusal, entryOf } from './adopted.js';
import { withinRanges } from './cidr.js';
import { scanRanges, type ScanResult } from './scanner.js';
import { defaultSuiteCache, type SuiteCache } from '../ipmi/session/suite-cache.js';

export interface DiscoveryServiceOptions {
  config: DiscoveryConfig | undefined;
  credentialSets: ReadonlyMap<string, CredentialSet>;
  adopted: AdoptedServers;
  logger: Logger;
  /** Whether a server id is taken (the YAML's and the adopted servers). */
  hasServer: (serverId: string) => boolean;
  /** Sends the report's parts when the open connection takes them; false (nothing sent) otherwise. */
  report: (parts: DiscoveredMessage[]) => boolean;
  /** Makes an adopted server, or one that moved (`moved`), part of the running agent and tells the relay. */
  onServer: (entry: ServerEntry, moved: boolean) => void;
  /** The scanner (tests pass a stand-in). */
  scan?: typeof scanRanges;
  /** Which cipher suite each IPMI address last negotiated: the IPMI sessions' own (tests pass theirs). */
  suiteCache?: SuiteCache;
}

/**
 * The agent's discovery: scans on schedule and on demand (one at a time),
 * reports each scan to the relay, follows adopted BMCs to a new address by
 * their UUID or GUID, and adopts on the relay's request. Probes go only to
 * the configured ranges: an adoption of an address outside them is refused,
 * and so is one outside the ranges of the credential set it names.
 */
export class DiscoveryService {
  readonly #options: DiscoveryServiceOptions;
  readonly #abort = new AbortController();
  /** The last finished scan's BMCs by address. */
  #found = new Map<string, DiscoveredBmc>();
  /** A finished scan the relay has not heard of yet (the connection was down, or took no reports). */
  #unreported: DiscoveredMessage[] | undefined;
  #running: { scanId: string; done: Promise<void> } | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The last adoption probe: the next one starts when it ends. */
  #probes: Promise<unknown> = Promise.resolve();

  constructor(options: DiscoveryServiceOptions) {
    this.#options = options;
  }

  get handlers(): OperationHandlers {
    return {
      'discovery.scan': async () => this.scanNow(),
      'discovery.adopt': async (params) => this.adopt(params),
    };
  }

  /** Scans now and every intervalSeconds (0: on demand only). */
  start(): void {
    const config = this.#options.config;
    if (config === undefined || config.intervalSeconds === 0) return;
    this.scanNow();
    this.#timer = setInterval(() => this.scanNow(), config.intervalSeconds * 1000);
    this.#timer.unref();
  }

  /** Starts a scan unless one is running (that one's id is returned then). */
  scanNow(): DiscoveryScanResult {
    const config = this.#options.config;
    if (config === undefined) throw new LightsoutError('DISCOVERY_NOT_CONFIGURED', "this agent's config names no discovery ranges");
    if (this.#running !== undefined) return { scanId: this.#running.scanId, started: false };
    const scanId = randomUUID();
    const done = this.#scan(config, scanId).finally(() => {
      this.#running = undefined;
    });
    this.#running = { scanId, done };
    return { scanId, started: true };
  }

  /** Sends a finished scan the relay missed (after a reconnect). */
  reportPending(): void {
    if (this.#unreported !== undefined && this.#options.report(this.#unreported)) this.#unreported = undefined;
  }

  /** The last scan's findings (tests and the adoption read them). */
  get found(): ReadonlyMap<string, DiscoveredBmc> {
    return this.#found;
  }

  /** Waits for the running scan, if any. */
  async settled(): Promise<void> {
    await this.#running?.done;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#abort.abort();
    await this.#running?.done;
  }

  async #scan(config: DiscoveryConfig, scanId: string): Promise<void> {
    const scan = this.#options.scan ?? scanRanges;
    let result: ScanResult;
    try {
      result = await scan(config, { signal: this.#abort.signal, scanId });
    } catch (error) {
      this.#options.logger.error({ err: error, scanId }, 'discovery scan failed');
      return;
    }
    if (this.#abort.signal.aborted) return;
    this.#found = new Map(result.bmcs.map((bmc) => [bmc.address, bmc]));
    this.#options.logger.info({ scanId, ranges: result.ranges, addresses: result.addresses, probes: result.probes, found: result.bmcs.length, seconds: (Date.parse(result.finishedAt) - Date.parse(result.startedAt)) / 1000 }, 'discovery scan finished');
    this.#followMoves(result.bmcs);
    this.#unreported = reportParts(result);
    this.reportPending();
  }

  /**
   * An adopted BMC whose UUID or GUID answers at another address now: the agent talks to it there. A UUID
   * or GUID is read without logging in, so anything on the network can claim one; the agent then logs in
   * there with the server's credentials. So a move is followed only when it cannot be a claim: exactly one
   * address answers with the identity (the old address answering too, or a second claimant, is no move),
   * and a BMC whose Redfish certificate was pinned shows the same certificate there (the scan's TLS
   * handshake proved the key behind it). Otherwise the server stays where it was, and the log says why.
   */
  #followMoves(bmcs: readonly DiscoveredBmc[]): void {
    const byIdentity = new Map<string, DiscoveredBmc[]>();
    for (const bmc of bmcs) {
      const identity = identityOf(bmc);
      if (identity !== undefined) byIdentity.set(identity, [...(byIdentity.get(identity) ?? []), bmc]);
    }
    for (const server of this.#options.adopted.list()) {
      const claims = server.identity === undefined ? [] : (byIdentity.get(server.identity) ?? []);
      if (claims.length === 0 || claims.some((claim) => claim.address === server.address)) continue;
      if (claims.length > 1) {
        this.#options.logger.warn({ serverId: server.id, address: server.address, identity: server.identity, claimedAt: claims.map((claim) => claim.address) }, 'an adopted BMC\'s identity answers at several addresses: not following any (one may be an impostor)');
        continue;
      }
      const bmc = claims[0]!;
      const set = this.#options.credentialSets.get(server.credentials);
      const refusal = set === undefined ? undefined : credentialSetRefusal(server.credentials, set, bmc.address);
      if (refusal !== undefined) {
        this.#options.logger.warn({ serverId: server.id, address: server.address, identity: server.identity, claimedAt: bmc.address }, `an adopted BMC's identity answers outside its credential set's ranges: not following it (${refusal})`);
        continue;
      }
      if (server.redfish !== undefined && bmc.redfish?.fingerprint256 !== server.redfish.fingerprint256) {
        this.#options.logger.warn({ serverId: server.id, address: server.address, identity: server.identity, claimedAt: bmc.address }, 'an adopted BMC\'s identity answers at another address with another certificate: not following it (adopt it again if the BMC really moved)');
        continue;
      }
      // A BMC this agent logged in to over RMCP+ keeps it when it moves: the new address claiming no IPMI v2.0
      // would have the agent fall back to a v1.5 login, whose MD5 AuthCode a claimant could attack offline.
      const suites = this.#options.suiteCache ?? defaultSuiteCache;
      const spokeRmcpPlus = server.ipmi === undefined ? undefined : suites.get(`${server.address}:${server.ipmi.port}`);
      // A set without v1.5 allowed logs in over RMCP+ only (entryOf): an address claiming no v2.0 is refused as at adoption.
      const v15Refused = bmc.ipmi !== undefined && bmc.ipmi.ipmi20 !== true && set?.allowIpmiV15 !== true;
      if ((spokeRmcpPlus !== undefined && bmc.ipmi?.ipmi20 !== true) || v15Refused) {
        this.#options.logger.warn({ serverId: server.id, address: server.address, identity: server.identity, claimedAt: bmc.address }, 'an adopted BMC\'s identity answers at another address without IPMI v2.0: not following it (a v1.5 login there would hand the claimant a hash of the password)');
        continue;
      }
      const moved = { ...adoptedFrom(bmc, { serverId: server.id, name: server.name, tenant: server.tenant, rack: server.rack, credentials: server.credentials }), adoptedAt: server.adoptedAt };
      const entry = entryOf(moved, this.#options.credentialSets);
      if (entry === undefined) continue;
      // …and an impostor there that later claims no RMCP+ meets the agent's refusal to fall back from it.
      if (spokeRmcpPlus !== undefined && moved.ipmi !== undefined) suites.set(`${moved.address}:${moved.ipmi.port}`, spokeRmcpPlus);
      this.#options.adopted.put(moved);
      this.#options.logger.info({ serverId: server.id, from: server.address, to: bmc.address, identity: server.identity }, 'an adopted BMC moved: following it');
      this.#options.onServer(entry, true);
    }
  }

  async adopt(params: Record<string, unknown>): Promise<DiscoveryAdoptResult> {
    if (!Value.Check(DiscoveryAdoptParams, params)) throw new LightsoutError('VALIDATION_FAILED', 'discovery.adopt needs address, serverId, name, tenant, rack and credentials');
    const config = this.#options.config;
    if (config === undefined) throw new LightsoutError('DISCOVERY_NOT_CONFIGURED', "this agent's config names no discovery ranges");
    if (!withinRanges(params.address, config.ranges)) throw new LightsoutError('VALIDATION_FAILED', `${params.address} is not within this agent's discovery ranges (${config.ranges.join(', ')})`);
    const set = this.#options.credentialSets.get(params.credentials);
    if (set === undefined) throw new LightsoutError('CREDENTIALS_UNKNOWN', `this agent's config has no credential set ${params.credentials}`);
    // Before the address is probed: the relay picked both, and the agent's config says where the set belongs.
    const refusal = credentialSetRefusal(params.credentials, set, params.address);
    if (refusal !== undefined) {
      throw new LightsoutError('FORBIDDEN', refusal, {
        hint: `adopt it with a credential set meant for this address, or add the address to the ranges of credential set ${params.credentials} in the agent's config`,
        details: { reason: 'CREDENTIALS_OUT_OF_RANGE' },
      });
    }
    if (this.#options.hasServer(params.serverId)) throw new LightsoutError('CONFLICT', `this agent has a server ${params.serverId} already`);
    // Not in the last scan (the agent restarted since, or the BMC came up later): probe that one address now.
    const bmc = this.#found.get(params.address) ?? (await this.#probeOne(config, params.address));
    if (bmc === undefined) throw new LightsoutError('NOT_FOUND', `no BMC answers at ${params.address}`, { hint: 'lightsout discovered scan --agent AGENT, then list again' });
    const identity = identityOf(bmc);
    const twin = identity === undefined ? undefined : this.#options.adopted.list().find((server) => server.identity === identity);
    if (twin !== undefined) throw new LightsoutError('CONFLICT', `this BMC (${identity}) was adopted as ${twin.id}`);
    // An adopted BMC logs in over RMCP+ only (entryOf): one that claims no IPMI v2.0 would never log in, and
    // a v1.5 login would hand whatever answers there an MD5 hash of the password (IPMI v2.0 §22.17.1).
    if (bmc.ipmi !== undefined && bmc.ipmi.ipmi20 !== true && set.allowIpmiV15 !== true) {
      throw new LightsoutError('FORBIDDEN', `the BMC at ${params.address} offers no IPMI v2.0, and credential set ${params.credentials} is not allowed in IPMI v1.5 logins`, {
        hint: `if this BMC really has only IPMI v1.5, set allowIpmiV15: true on credential set ${params.credentials} in the agent's config (its MD5 logins can be cracked offline by whoever answers)`,
        details: { reason: 'IPMI_V15_NOT_ALLOWED' },
      });
    }
    const adopted = adoptedFrom(bmc, params);
    const entry = entryOf(adopted, this.#options.credentialSets)!;
    this.#options.adopted.put(adopted);
    this.#options.logger.info({ serverId: adopted.id, address: adopted.address, tenant: adopted.tenant, credentials: adopted.credentials }, 'adopted a discovered BMC');
    this.#options.onServer(entry, false);
    return { serverId: adopted.id, address: adopted.address, protocols: bmc.protocols };
  }

  /**
   * One address, probed under the scan's settings. Adoptions' probes run one after another: each one's
   * pacer keeps to probesPerSecond alone, so adoptions the relay sends at once must not add up past it.
   */
  #probeOne(config: DiscoveryConfig, address: string): Promise<DiscoveredBmc | undefined> {
    const scan = this.#options.scan ?? scanRanges;
    const probe = this.#probes.then(async () => (await scan({ ...config, ranges: [`${address}/32`] }, { signal: this.#abort.signal })).bmcs[0]);
    this.#probes = probe.catch(() => undefined);
    return probe;
  }
}

/** One scan's report in frames of at most CONTROL_MAX_DISCOVERED_PER_FRAME BMCs (an empty scan is one frame too). */
export function reportParts(result: ScanResult): DiscoveredMessage[] {
  const head = { v: CONTROL_PROTOCOL_VERSION, type: 'discovered', scanId: result.scanId, ranges: result.ranges, startedAt: result.startedAt, finishedAt: result.finishedAt, addresses: result.addresses, probes: result.probes } as const;
  const parts: DiscoveredMessage[] = [];
  for (let start = 0; start === 0 || start < result.bmcs.length; start += CONTROL_MAX_DISCOVERED_PER_FRAME) {
    const bmcs = result.bmcs.slice(start, start + CONTROL_MAX_DISCOVERED_PER_FRAME);
    parts.push({ ...head, bmcs, ...(start + CONTROL_MAX_DISCOVERED_PER_FRAME < result.bmcs.length ? { more: true } : {}) });
  }
  return parts;
}
