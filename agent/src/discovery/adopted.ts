import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Type, { type Static } from 'typebox';
import { Value } from 'typebox/value';
import { type DiscoveredBmc, identityOf, LightsoutError, SLUG_PATTERN } from '@lightsout/shared';
import type { BmcCredentials } from '../drivers/types.js';
import type { CredentialSet, ServerEntry } from '../config/types.js';
import { inCidrs } from './cidr.js';

/** The file under the state dir that holds the adopted servers (0600, written through a rename). */
export const ADOPTED_FILE = 'adopted-servers.json';

const Slug = Type.String({ pattern: SLUG_PATTERN, minLength: 1, maxLength: 63 });

/**
 * One adopted BMC as the agent keeps it: where it is, which credential set
 * of the config logs in (by id: the secret stays in the config's reference),
 * and what identifies it when its address changes. The Redfish certificate
 * seen at discovery is pinned.
 */
export const AdoptedServer = Type.Object(
  {
    id: Slug,
    name: Type.String({ minLength: 1, maxLength: 255 }),
    tenant: Slug,
    rack: Slug,
    credentials: Slug,
    address: Type.String({ minLength: 7, maxLength: 15 }),
    /** Redfish UUID, else IPMI GUID (lower case); absent when the BMC told neither. */
    identity: Type.Optional(Type.String({ maxLength: 64 })),
    ipmi: Type.Optional(Type.Object({ port: Type.Integer({ minimum: 1, maximum: 65_535 }) }, { additionalProperties: false })),
    redfish: Type.Optional(Type.Object({ port: Type.Integer({ minimum: 1, maximum: 65_535 }), fingerprint256: Type.String({ pattern: '^[0-9a-f]{64}$' }) }, { additionalProperties: false })),
    adoptedAt: Type.String({ maxLength: 32 }),
  },
  { additionalProperties: false },
);
export type AdoptedServer = Static<typeof AdoptedServer>;
const AdoptedFile = Type.Object({ version: Type.Literal(1), servers: Type.Array(AdoptedServer, { maxItems: 65_536 }) }, { additionalProperties: false });

export class AdoptedServers {
  readonly #file: string;
  readonly #servers = new Map<string, AdoptedServer>();

  constructor(readonly stateDir: string) {
    this.#file = join(stateDir, ADOPTED_FILE);
    let text: string;
    try {
      text = readFileSync(this.#file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new LightsoutError('CONFIG_INVALID', `cannot read ${this.#file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      document = undefined;
    }
    if (!Value.Check(AdoptedFile, document)) throw new LightsoutError('CONFIG_INVALID', `${this.#file} is not a file of adopted servers`, { hint: 'restore it from a backup, or move it away and adopt the servers again' });
    for (const server of document.servers) this.#servers.set(server.id, server);
  }

  list(): AdoptedServer[] {
    return [...this.#servers.values()];
  }

  get(id: string): AdoptedServer | undefined {
    return this.#servers.get(id);
  }

  /** Adds or replaces one and writes the file before returning: an adoption is reported only once it is on disk. */
  put(server: AdoptedServer): void {
    const before = this.#servers.get(server.id);
    this.#servers.set(server.id, server);
    try {
      this.#write();
    } catch (error) {
      if (before === undefined) this.#servers.delete(server.id);
      else this.#servers.set(server.id, before);
      throw new LightsoutError('INTERNAL', `could not write ${this.#file}: ${(error as Error).message}`);
    }
  }

  #write(): void {
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    const temporary = `${this.#file}.tmp`;
    writeFileSync(temporary, `${JSON.stringify({ version: 1, servers: this.list() }, null, 2)}\n`, { mode: 0o600 });
    renameSync(temporary, this.#file);
  }
}

/** What the agent keeps when an admin adopts `bmc`: its protocols and ports as found, and its certificate pinned. */
export function adoptedFrom(bmc: DiscoveredBmc, params: { serverId: string; name: string; tenant: string; rack: string; credentials: string }, now = new Date()): AdoptedServer {
  const server: AdoptedServer = { id: params.serverId, name: params.name, tenant: params.tenant, rack: params.rack, credentials: params.credentials, address: bmc.address, adoptedAt: now.toISOString() };
  const identity = identityOf(bmc);
  if (identity !== undefined) server.identity = identity;
  if (bmc.ipmi !== undefined) server.ipmi = { port: bmc.ipmi.port };
  if (bmc.redfish !== undefined) server.redfish = { port: bmc.redfish.port, fingerprint256: bmc.redfish.fingerprint256 };
  return server;
}

/**
 * Why `set` may not be sent to `address`, or undefined when it may. The relay chose both for the
 * adoption: a set with ranges goes only where the agent's own config says it belongs.
 */
export function credentialSetRefusal(setId: string, set: CredentialSet, address: string): string | undefined {
  if (set.ranges === undefined || inCidrs(address, set.ranges)) return undefined;
  return `credential set ${setId} may be used only in ${set.ranges.join(', ')}, and ${address} is not in it`;
}

/**
 * The server entry the drivers use; undefined when the config no longer has its credential set, or
 * that set's ranges no longer take the server's address. IPMI logins are RMCP+ only unless the set
 * allows v1.5: the address came from the relay, and a v1.5 login there would give whatever answers
 * an MD5 hash of the password (IPMI v2.0 §22.17.1) to attack offline.
 */
export function entryOf(server: AdoptedServer, credentialSets: ReadonlyMap<string, CredentialSet>): ServerEntry | undefined {
  const set = credentialSets.get(server.credentials);
  if (set === undefined || credentialSetRefusal(server.credentials, set, server.address) !== undefined) return undefined;
  const credentials: BmcCredentials = { username: set.username, password: set.password };
  const entry: ServerEntry = { id: server.id, name: server.name, tenant: server.tenant, rack: server.rack, labels: { adopted: 'true' } };
  if (server.ipmi !== undefined) entry.ipmi = { host: server.address, port: server.ipmi.port, credentials, cipherSuite: 'auto', privilege: 'administrator', quirks: [], protocol: set.allowIpmiV15 === true ? 'auto' : 'lanplus' };
  if (server.redfish !== undefined) {
    const host = server.redfish.port === 443 ? server.address : `${server.address}:${server.redfish.port}`;
    entry.redfish = { url: `https://${host}`, credentials, tls: { insecure: false, fingerprint256: server.redfish.fingerprint256 }, quirks: [] };
  }
  return entry;
}
