import type { DiscoveryProtocol } from '@lightsout/shared';
import type { IpmiPrivilege } from './schema.js';
import type { BmcCredentials } from '../drivers/types.js';

/**
 * The configuration after loading: defaults applied, credentials read from
 * their env var or file, paths made absolute. Drivers receive their endpoint
 * from here; nothing in this shape is ever sent upstream or logged whole.
 */
export interface IpmiEndpoint {
  host: string;
  port: number;
  credentials: BmcCredentials;
  cipherSuite: 'auto' | 3 | 17;
  privilege: IpmiPrivilege;
  quirks: string[];
  /** `lanplus`: RMCP+ only, never a v1.5 login; absent = `auto` (v1.5 when the BMC has no IPMI v2.0). */
  protocol?: 'auto' | 'lanplus';
}

export interface RedfishEndpoint {
  url: string;
  credentials: BmcCredentials;
  /** No CA file, no pin and not insecure = trust on first use, recorded under the state dir. */
  tls: { insecure: boolean; caFile?: string; fingerprint256?: string };
  systemId?: string;
  quirks: string[];
}

export interface VncEndpoint {
  url: string;
  credentials?: BmcCredentials;
}

export interface SerialEndpoint {
  url: string;
  credentials?: BmcCredentials;
}

export interface WebEndpoint {
  /** `https://host[:port]` (or `http://`), without a trailing slash. */
  url: string;
  /** Its own trust settings; absent, the Redfish endpoint's apply. */
  tls?: RedfishEndpoint['tls'];
}

export interface ServerEntry {
  id: string;
  name: string;
  tenant: string;
  rack: string;
  labels: Record<string, string>;
  ipmi?: IpmiEndpoint;
  redfish?: RedfishEndpoint;
  vnc?: VncEndpoint;
  serial?: SerialEndpoint;
  web?: WebEndpoint;
}

export interface AgentConfig {
  /** Base URLs of the relays (gateways) to connect to, in order of preference, without a trailing slash. */
  relays: string[];
  /** The first of `relays` (enrollment goes there first). */
  relay: string;
  /** Those of `relays` reached over plain http:// off loopback (allowInsecureRelay): the agent warns at start. */
  insecureRelays?: string[];
  name: string;
  /** Absolute path. */
  stateDir: string;
  /** Only needed until the agent has enrolled. */
  joinToken: string | undefined;
  logLevel: string;
  control: {
    backoffBaseMs: number;
    backoffCapMs: number;
    /** One connection attempt (TCP, upgrade, welcome) gives up after this. */
    connectTimeoutMs: number;
    /** A connection open this long resets the backoff. */
    stableAfterMs: number;
    /** Upper bound for one driver call, also when the relay allows longer. */
    requestTimeoutMs: number;
  };
  poll: {
    intervalMs: number;
    concurrency: number;
    /** 0 = no background sensor sampling. */
    sensorsIntervalMs: number;
    sensorsConcurrency: number;
    sensorsHistoryServers: number;
  };
  /** Where /healthz, /readyz and /metrics listen; undefined = off. */
  metrics: { listen?: { host: string; port: number } };
  /** As written in the file; the media extension applies defaults and LIGHTSOUT_MEDIA_* overrides. */
  media: { listen?: string; publicUrl?: string; cacheBytes?: number; urlTtlSeconds?: number; autoEjectSeconds?: number };
  /** The YAML's servers, then (at start and on adoption) the adopted ones: the array grows while the agent runs. */
  servers: ServerEntry[];
  /** The credential sets by id: adoption names one (the reference travels upstream, never the secret). */
  credentialSets: ReadonlyMap<string, CredentialSet>;
  /** Undefined: the agent scans nothing. */
  discovery: DiscoveryConfig | undefined;
}

/**
 * A credential set as adoption uses it: the secret, and which discovered BMCs may be sent it. The
 * relay names the address and the set of an adoption; these are the agent's own limits on that.
 */
export interface CredentialSet extends BmcCredentials {
  /** IPv4 CIDRs an adopted BMC must be in to get this set; absent = any address of the discovery ranges. */
  ranges?: string[];
  /** Adopted BMCs without IPMI v2.0 may log in with v1.5, whose MD5 AuthCode is a crackable hash of the password. */
  allowIpmiV15?: boolean;
}

export interface DiscoveryConfig {
  ranges: string[];
  /** 0 = on demand only. */
  intervalSeconds: number;
  probesPerSecond: number;
  concurrency: number;
  timeoutMs: number;
  retries: number;
  ipmiPort: number;
  redfishPort: number;
  protocols: DiscoveryProtocol[];
}
