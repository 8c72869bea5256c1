import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Value } from 'typebox/value';
import { parse as parseYaml } from 'yaml';
import { LightsoutError, isLoopbackHost } from '@lightsout/shared';
import type { BmcCredentials } from '../drivers/types.js';
import { DEFAULT_BACKOFF, DEFAULT_CONNECT_TIMEOUT_MS } from '../control/backoff.js';
import { AgentConfigFile, type ServerConfig } from './schema.js';
import { parseCidr } from '../discovery/cidr.js';
import { SENSOR_HISTORY_SERVERS } from '../sensor-history.js';
import { DEFAULT_SENSORS_CONCURRENCY, DEFAULT_SENSORS_INTERVAL_MS } from '../sensor-sampler.js';
import type { AgentConfig, CredentialSet, DiscoveryConfig, RedfishEndpoint, ServerEntry } from './types.js';

export const JOIN_TOKEN_ENV = 'LIGHTSOUT_JOIN_TOKEN';

const IPMI_DEFAULT_PORT = 623;

function invalid(source: string, key: string, problem: string, hint?: string): LightsoutError {
  return new LightsoutError('CONFIG_INVALID', `${source}: ${key || '(top level)'} ${problem}`, {
    hint: hint ?? 'fix the key in the agent config file; agent/README.md lists every key',
    details: { key },
  });
}

/** `/servers/0/ipmi` → `servers[0].ipmi`: the way an operator reads YAML. */
export function keyOf(pointer: string): string {
  return pointer
    .split('/')
    .filter((part) => part !== '')
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce((key, part) => (/^\d+$/.test(part) ? `${key}[${part}]` : key === '' ? part : `${key}.${part}`), '');
}

function join(parent: string, child: string): string {
  return parent === '' ? child : `${parent}.${child}`;
}

/** Turns the first schema violation into one sentence naming the key. */
function schemaError(source: string, value: unknown): LightsoutError | undefined {
  const errors = [...Value.Errors(AgentConfigFile, value)];
  if (errors.length === 0) return undefined;
  // The most specific error is the deepest one; among equals the first.
  const error = errors.reduce((best, candidate) => (candidate.instancePath.length > best.instancePath.length ? candidate : best));
  const key = keyOf(error.instancePath);
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required' && Array.isArray(params['requiredProperties'])) {
    const missing = (params['requiredProperties'] as string[]).map((name) => join(key, name));
    return invalid(source, missing.join(', '), missing.length === 1 ? 'is required' : 'are required');
  }
  if (error.keyword === 'boolean' || error.keyword === 'additionalProperties') {
    const extra = Array.isArray(params['additionalProperties']) ? join(key, String(params['additionalProperties'][0])) : key;
    return invalid(source, extra, 'is not a known key', 'remove it or check its spelling; agent/README.md lists every key');
  }
  if (error.keyword === 'pattern') return invalid(source, key, `has an invalid format (${error.message})`);
  return invalid(source, key, error.message);
}

function readSecretFile(source: string, key: string, path: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw invalid(source, key, `names a file that cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function resolveCredentials(source: string, file: AgentConfigFile, base: string, env: NodeJS.ProcessEnv): Map<string, CredentialSet> {
  const credentials = new Map<string, CredentialSet>();
  for (const [index, entry] of (file.credentials ?? []).entries()) {
    const key = `credentials[${index}]`;
    if (credentials.has(entry.id)) throw invalid(source, `${key}.id`, `repeats the id ${entry.id}`);
    if ((entry.passwordEnv === undefined) === (entry.passwordFile === undefined)) {
      throw invalid(source, key, 'needs exactly one of passwordEnv or passwordFile');
    }
    let password: string;
    if (entry.passwordEnv !== undefined) {
      const value = env[entry.passwordEnv];
      if (value === undefined) throw invalid(source, `${key}.passwordEnv`, `names ${entry.passwordEnv}, which is not set in the environment`, `export ${entry.passwordEnv} before starting the agent`);
      password = value;
    } else {
      password = readSecretFile(source, `${key}.passwordFile`, resolve(base, entry.passwordFile!));
    }
    const set: CredentialSet = { username: entry.username, password };
    if (entry.ranges !== undefined) {
      set.ranges = entry.ranges.map((range, index) => {
        try {
          return parseCidr(range, 0).cidr;
        } catch (error) {
          throw invalid(source, `${key}.ranges[${index}]`, (error as Error).message.replace(/^discovery range /, 'is not usable: '), 'name IPv4 networks as a.b.c.d/n');
        }
      });
    }
    if (entry.allowIpmiV15 === true) set.allowIpmiV15 = true;
    credentials.set(entry.id, set);
  }
  return credentials;
}

function resolveServer(source: string, server: ServerConfig, index: number, credentials: Map<string, BmcCredentials>, base: string): ServerEntry {
  const key = `servers[${index}]`;
  const lookup = (endpoint: string, id: string): BmcCredentials => {
    const found = credentials.get(id);
    if (found === undefined) throw invalid(source, `${key}.${endpoint}.credentials`, `names ${id}, which is not under credentials`);
    return found;
  };
  const entry: ServerEntry = { id: server.id, name: server.name, tenant: server.tenant, rack: server.rack, labels: server.labels ?? {} };
  if (server.ipmi) {
    entry.ipmi = {
      host: server.ipmi.host,
      port: server.ipmi.port ?? IPMI_DEFAULT_PORT,
      credentials: lookup('ipmi', server.ipmi.credentials),
      cipherSuite: server.ipmi.cipherSuite ?? 'auto',
      privilege: server.ipmi.privilege ?? 'administrator',
      quirks: server.ipmi.quirks ?? [],
    };
  }
  if (server.redfish) {
    const tls: RedfishEndpoint['tls'] = { insecure: server.redfish.tls?.insecure ?? false };
    if (server.redfish.tls?.caFile !== undefined) tls.caFile = resolve(base, server.redfish.tls.caFile);
    if (server.redfish.tls?.fingerprint256 !== undefined) tls.fingerprint256 = server.redfish.tls.fingerprint256;
    entry.redfish = { url: server.redfish.url.replace(/\/+$/, ''), credentials: lookup('redfish', server.redfish.credentials), tls, quirks: server.redfish.quirks ?? [] };
    if (server.redfish.systemId !== undefined) entry.redfish.systemId = server.redfish.systemId;
  }
  if (server.vnc) {
    entry.vnc = { url: server.vnc.url };
    if (server.vnc.credentials !== undefined) entry.vnc.credentials = lookup('vnc', server.vnc.credentials);
  }
  if (server.serial) {
    entry.serial = { url: server.serial.url };
    if (server.serial.credentials !== undefined) entry.serial.credentials = lookup('serial', server.serial.credentials);
  }
  if (server.web) {
    entry.web = { url: server.web.url.replace(/\/+$/, '') };
    if (server.web.tls) {
      const tls: RedfishEndpoint['tls'] = { insecure: server.web.tls.insecure ?? false };
      if (server.web.tls.caFile !== undefined) tls.caFile = resolve(base, server.web.tls.caFile);
      if (server.web.tls.fingerprint256 !== undefined) tls.fingerprint256 = server.web.tls.fingerprint256;
      entry.web.tls = tls;
    }
  }
  return entry;
}

/** The discovery section with its defaults; each range checked here so a typo stops the agent at start. */
function resolveDiscovery(source: string, section: AgentConfigFile['discovery']): DiscoveryConfig | undefined {
  if (section === undefined) return undefined;
  const ranges: string[] = [];
  for (const [index, range] of section.ranges.entries()) {
    try {
      ranges.push(parseCidr(range).cidr);
    } catch (error) {
      throw invalid(source, `discovery.ranges[${index}]`, (error as Error).message.replace(/^discovery range /, 'is not usable: '), 'name IPv4 networks as a.b.c.d/n, /16 or narrower');
    }
  }
  return {
    ranges,
    intervalSeconds: section.intervalSeconds ?? 3600,
    probesPerSecond: section.probesPerSecond ?? 500,
    concurrency: section.concurrency ?? 128,
    timeoutMs: section.timeoutMs ?? 1000,
    retries: section.retries ?? 1,
    ipmiPort: section.ipmiPort ?? IPMI_DEFAULT_PORT,
    redfishPort: section.redfishPort ?? 443,
    protocols: section.protocols ?? ['ipmi', 'redfish'],
  };
}

/**
 * The relays reached over plain http:// off loopback. Refused unless the config allows it: whoever
 * sits on that path can answer as the relay (every request the relay may send) and replay the
 * agent's bearer token (RFC 6750 §5.3: bearer tokens need TLS).
 */
function insecureRelaysOf(source: string, file: AgentConfigFile): string[] {
  const entries = file.relays === undefined ? [{ key: 'relay', url: file.relay! }] : file.relays.map((url, index) => ({ key: `relays[${index}]`, url }));
  const insecure: string[] = [];
  for (const { key, url } of entries) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalid(source, key, `is not a valid URL (${url})`);
    }
    if (parsed.protocol !== 'http:' || isLoopbackHost(parsed.hostname)) continue;
    if (file.allowInsecureRelay !== true) {
      throw invalid(source, key, `is plain http:// to ${parsed.hostname}, not a loopback address: anyone on the network path could act as the relay and read what the agent sends`, 'use https://, or set allowInsecureRelay: true if the network path is trusted');
    }
    insecure.push(url.replace(/\/+$/, ''));
  }
  return insecure;
}

/** `9464` → loopback; `host:9464` and `[::1]:9464` as written. The schema checked the shape. */
function listenOf(listen: string | number): { host: string; port: number } {
  const match = /^(?:\[?([^\]]+?)\]?:)?(\d{1,5})$/.exec(String(listen))!;
  return { host: match[1] ?? '127.0.0.1', port: Number(match[2]) };
}

/** Validates and resolves a parsed config document. `base` resolves relative paths. */
export function resolveConfig(document: unknown, options: { source: string; base: string; env: NodeJS.ProcessEnv }): AgentConfig {
  const { source, base, env } = options;
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw invalid(source, '', 'must be a YAML mapping (relay, name, stateDir, servers …)');
  }
  const failure = schemaError(source, document);
  if (failure) throw failure;
  const file = document as AgentConfigFile;
  const seen = new Set<string>();
  const configured = file.servers ?? [];
  for (const [index, server] of configured.entries()) {
    if (seen.has(server.id)) throw invalid(source, `servers[${index}].id`, `repeats the server id ${server.id}`);
    seen.add(server.id);
  }
  const credentials = resolveCredentials(source, file, base, env);
  const servers = configured.map((server, index) => resolveServer(source, server, index, credentials, base));
  const discovery = resolveDiscovery(source, file.discovery);
  if (file.joinToken !== undefined && file.joinTokenFile !== undefined) {
    throw invalid(source, 'joinTokenFile', 'cannot be set together with joinToken');
  }
  const joinToken = file.joinToken ?? (file.joinTokenFile !== undefined ? readSecretFile(source, 'joinTokenFile', resolve(base, file.joinTokenFile)).trim() : env[JOIN_TOKEN_ENV]?.trim() || undefined);
  if ((file.relay === undefined) === (file.relays === undefined)) {
    throw invalid(source, 'relay', file.relay === undefined ? 'is required' : 'cannot be set together with relays', 'give one `relay: url`, or the gateways of the region as `relays: [url, …]`');
  }
  const relays = [...new Set((file.relays ?? [file.relay!]).map((url) => url.replace(/\/+$/, '')))];
  const insecureRelays = [...new Set(insecureRelaysOf(source, file))];
  const control = file.control ?? {};
  const backoffBaseMs = control.backoffBaseMs ?? DEFAULT_BACKOFF.baseMs;
  const backoffCapMs = control.backoffCapMs ?? DEFAULT_BACKOFF.capMs;
  if (backoffCapMs < backoffBaseMs) throw invalid(source, 'control.backoffCapMs', `must be at least control.backoffBaseMs (${backoffBaseMs})`);
  return {
    relays,
    relay: relays[0]!,
    insecureRelays,
    name: file.name,
    stateDir: isAbsolute(file.stateDir) ? file.stateDir : resolve(base, file.stateDir),
    joinToken,
    logLevel: file.log?.level ?? 'info',
    control: {
      backoffBaseMs,
      backoffCapMs,
      connectTimeoutMs: control.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      stableAfterMs: control.stableAfterMs ?? 10_000,
      requestTimeoutMs: control.requestTimeoutMs ?? 30_000,
    },
    poll: {
      intervalMs: file.poll?.intervalMs ?? 30_000,
      concurrency: file.poll?.concurrency ?? 64,
      sensorsIntervalMs: file.poll?.sensorsIntervalMs ?? DEFAULT_SENSORS_INTERVAL_MS,
      sensorsConcurrency: file.poll?.sensorsConcurrency ?? DEFAULT_SENSORS_CONCURRENCY,
      sensorsHistoryServers: file.poll?.sensorsHistoryServers ?? SENSOR_HISTORY_SERVERS,
    },
    metrics: file.metrics === undefined ? {} : { listen: listenOf(file.metrics.listen) },
    media: file.media ?? {},
    servers,
    credentialSets: credentials,
    discovery,
  };
}

/** Reads, parses, validates and resolves the YAML file at `path`. Throws CONFIG_INVALID. */
export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const absolute = resolve(path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new LightsoutError('CONFIG_INVALID', `cannot read the agent config ${absolute} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, {
      hint: 'pass the path of an existing file with --config',
    });
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new LightsoutError('CONFIG_INVALID', `${absolute}: not valid YAML: ${(error as Error).message.split('\n')[0]}`, { hint: 'fix the YAML syntax at the line shown' });
  }
  return resolveConfig(document, { source: absolute, base: dirname(absolute), env });
}
