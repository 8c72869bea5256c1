import { Bmc, type BmcEndpoints } from './bmc/bmc.js';
import { bmcConfig, type BmcConfig, type BmcFaults, DEMO_USERS } from './bmc/config.js';
import type { HostTimings } from './host/host.js';
import { IpmiLanServer } from './ipmi/lan-server.js';
import { agentConfigFor, type AgentConfigOptions } from './agent-config.js';
import { selfSignedCertificate, type TlsMaterial } from './web/tls.js';

/**
 * Many simulated BMCs in one process. Two address plans:
 * - `baseAddress` (default 127.1.0.1): BMC i gets its own loopback address
 *   (Linux routes all of 127/8 to lo, no setup needed) and the standard ports
 *   where permitted: UDP 623, TCP 443 as root, else 20623/8443; VNC 5900.
 * - `address` (e.g. 127.0.0.1): everyone shares one address; ports are
 *   `ports.x + i`, or ephemeral when a base port is 0 (what tests use).
 */
export interface FleetOptions {
  count: number;
  baseAddress?: string;
  address?: string;
  /** One loopback address per BMC, in order (a fleet with gaps, e.g. for discovery); overrides baseAddress. */
  addresses?: readonly string[];
  ports?: Partial<FleetPorts>;
  /** Faults for every BMC, then per-BMC overrides by index. */
  faults?: Partial<BmcFaults>;
  faultsFor?: (index: number) => Partial<BmcFaults> | undefined;
  /**
   * HTTPS with a fleet-wide self-signed certificate (default), plain HTTP
   * (false), or another fleet's certificate and key: the same BMCs answering
   * elsewhere, as a real BMC keeps its certificate when its address changes.
   */
  tls?: boolean | TlsMaterial;
  timings?: Partial<HostTimings>;
  vncPassword?: string;
  startPowered?: boolean;
  idPrefix?: string;
  agent?: AgentConfigOptions;
  /** Extra per-BMC config (users, session timeout …). */
  configure?: (config: BmcConfig, index: number) => void;
}

export interface FleetPorts {
  ipmi: number;
  web: number;
  vnc: number;
}

export interface FleetBmc extends BmcEndpoints {
  id: string;
  ipmi: { host: string; port: number };
  bmc: Bmc;
}

export interface Fleet {
  bmcs: FleetBmc[];
  /** The agent's YAML config (object form; `stringifyAgentConfig` renders it). */
  agentConfig: ReturnType<typeof agentConfigFor>['config'];
  /** Environment the agent needs for the credential references in agentConfig. */
  agentEnvironment: Record<string, string>;
  users: typeof DEMO_USERS;
  tls: TlsMaterial | undefined;
  stop(): Promise<void>;
}

const MAX_FLEET = 65_000;

export function defaultPorts(perBmcAddress: boolean): FleetPorts {
  if (!perBmcAddress) return { ipmi: 0, web: 0, vnc: 0 };
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  // ipmiconsole (FreeIPMI 1.6) refuses ports above 32767, so the fallback stays below.
  return root ? { ipmi: 623, web: 443, vnc: 5900 } : { ipmi: 20623, web: 8443, vnc: 5900 };
}

export function addressOf(baseAddress: string, index: number): string {
  const parts = baseAddress.split('.').map(Number);
  if (parts.length !== 4 || parts[0] !== 127 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) {
    throw new Error(`base address ${baseAddress} is not a 127.x.y.z loopback address`);
  }
  const value = ((parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) + index;
  if (value > 0xffffff) throw new Error(`fleet runs past 127.255.255.255 at index ${index}`);
  return `127.${(value >> 16) & 0xff}.${(value >> 8) & 0xff}.${value & 0xff}`;
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  if (!Number.isInteger(options.count) || options.count < 1 || options.count > MAX_FLEET) throw new Error(`count must be 1..${MAX_FLEET}`);
  const perBmcAddress = options.address === undefined;
  if (options.addresses !== undefined && (options.address !== undefined || options.addresses.length !== options.count)) throw new Error('addresses must name one address per BMC, without address');
  const baseAddress = options.baseAddress ?? '127.1.0.1';
  const ports = { ...defaultPorts(perBmcAddress), ...options.ports };
  const addresses = Array.from({ length: options.count }, (_, index) => (options.addresses?.[index] ?? (perBmcAddress ? addressOf(baseAddress, index) : options.address!)));
  const tls = options.tls === false ? undefined : typeof options.tls === 'object' ? options.tls : await selfSignedCertificate('bmcsim', [...new Set(addresses)]);
  const prefix = options.idPrefix ?? 'sim';
  const width = Math.max(2, String(options.count).length);
  const bmcs: FleetBmc[] = [];
  const stop = async () => {
    // Stop in batches so 1,000 closes do not all wait on one tick.
    for (let start = 0; start < bmcs.length; start += 100) await Promise.all(bmcs.slice(start, start + 100).map((entry) => entry.bmc.stop()));
  };
  try {
    for (let index = 0; index < options.count; index++) {
      const id = `${prefix}-${String(index + 1).padStart(width, '0')}`;
      const config = bmcConfig(id, {
        seed: index + 1,
        timings: options.timings ?? {},
        vncPassword: options.vncPassword,
        startPowered: options.startPowered ?? true,
        faults: { ...options.faults, ...options.faultsFor?.(index) },
      });
      options.configure?.(config, index);
      const bmc = new Bmc(config);
      const port = (base: number) => (base === 0 || perBmcAddress ? base : base + index);
      const endpoints = await bmc.start({ address: addresses[index]!, ipmiPort: port(ports.ipmi), webPort: port(ports.web), vncPort: port(ports.vnc), tls }, (owner) => new IpmiLanServer(owner));
      bmcs.push({ id, ...endpoints, ipmi: { host: endpoints.address, port: endpoints.ipmiPort }, bmc });
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const { config: agentConfig, environment } = agentConfigFor(bmcs, DEMO_USERS[0]!, tls, options.vncPassword, options.agent ?? {});
  return { bmcs, agentConfig, agentEnvironment: environment, users: DEMO_USERS, tls, stop };
}
