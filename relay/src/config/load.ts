import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LightsoutError } from '@lightsout/shared';
import { Value } from 'typebox/value';
import { parse as parseYaml } from 'yaml';
import { type RelayConfig, type RelayConfigInput, RelayConfigSchema } from './schema.js';

/**
 * Environment overrides: `LIGHTSOUT_RELAY__<SECTION>__<KEY>=value`, one `__`
 * per nesting level, keys in SCREAMING_SNAKE_CASE of the camelCase config key.
 *   LIGHTSOUT_RELAY__LISTEN__PORT=9000          → listen.port
 *   LIGHTSOUT_RELAY__AGENTS__HEARTBEAT_INTERVAL_MS=1000 → agents.heartbeatIntervalMs
 *   LIGHTSOUT_RELAY__PUBLIC_URL=https://relay.example → publicUrl
 * Values are strings converted by the schema (numbers, booleans).
 */
export const ENV_PREFIX = 'LIGHTSOUT_RELAY__';
export const CONFIG_PATH_ENV = 'LIGHTSOUT_RELAY_CONFIG';

/**
 * The web console relative to the compiled relay, defined by scripts/build.ts: the checkout's from relay/dist/,
 * or `web/` beside `lib/` in the packaged directory. Undefined when the sources run.
 */
declare const LIGHTSOUT_WEB_ROOT: string | undefined;
const DEFAULT_WEB_ROOT = fileURLToPath(new URL(typeof LIGHTSOUT_WEB_ROOT === 'string' ? LIGHTSOUT_WEB_ROOT : '../../../desktop/out/web', import.meta.url));

function camelCase(snake: string): string {
  return snake.toLowerCase().replace(/_([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function merge(base: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = merged[key];
    merged[key] = isRecord(current) && isRecord(value) ? merge(current, value) : value;
  }
  return merged;
}

export function environmentOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const overrides: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const path = name.slice(ENV_PREFIX.length).split('__').filter(Boolean).map(camelCase);
    if (path.length === 0) continue;
    let cursor = overrides;
    for (const key of path.slice(0, -1)) {
      const next = cursor[key];
      cursor = isRecord(next) ? next : (cursor[key] = {});
    }
    cursor[path.at(-1)!] = value;
  }
  return overrides;
}

function configError(key: string, message: string, source: string): LightsoutError {
  return new LightsoutError('CONFIG_INVALID', `relay config key "${key}" ${message} (${source})`, {
    hint: `fix "${key}" in the config file or its ${ENV_PREFIX}* environment override`,
    details: { key },
  });
}

/** Validate raw input (file + env merged) and derive publicUrl, audiences, absolute paths. */
export function resolveConfig(raw: unknown, options: { source?: string; baseDir?: string } = {}): RelayConfig {
  const source = options.source ?? 'config';
  if (raw !== undefined && raw !== null && !isRecord(raw)) throw configError('(root)', 'must be a mapping of keys', source);
  const candidate = Value.Convert(RelayConfigSchema, Value.Default(RelayConfigSchema, structuredClone(raw ?? {})));
  const errors = [...Value.Errors(RelayConfigSchema, candidate)];
  if (errors.length > 0) {
    // Prefer the error that names a leaf key over the parent's summary.
    const first = errors.find((error) => error.instancePath !== '') ?? errors[0]!;
    const key = first.instancePath.split('/').filter(Boolean).join('.') || '(root)';
    const message = first.keyword === 'boolean' ? 'is not a known setting' : first.message;
    throw configError(key, message, source);
  }
  const input = candidate as RelayConfigInput;
  const baseDir = options.baseDir ?? process.cwd();
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
  const publicUrl = (input.publicUrl ?? `http://${input.listen.host.includes(':') ? `[${input.listen.host}]` : input.listen.host}:${input.listen.port}`).replace(/\/$/, '');
  // Issuer and audiences derive from the deployment's URL, the same on every replica: a token issued through one is valid on all.
  const deploymentUrl = (input.deploymentUrl ?? publicUrl).replace(/\/$/, '');
  if (input.identity.mode === 'external' && input.identity.external === undefined) {
    throw configError('identity.external', 'is required when identity.mode is external', source);
  }
  if (input.identity.mode === 'external') {
    const external = input.identity.external!;
    const audience = input.identity.audience ?? `${deploymentUrl}/v1`;
    // A provider that types every JWT `JWT` types its ID tokens that way too; only the audience then tells them apart.
    if (external.accessTokenTypes.some((type) => type.toLowerCase() !== 'at+jwt') && [external.clientId, external.cliClientId].includes(audience)) {
      throw configError('identity.audience', 'must not be a client id when identity.external.accessTokenTypes accepts more than at+jwt (ID tokens would pass as access tokens)', source);
    }
  }
  if (input.store.driver === 'postgres' && input.store.postgresUrl === undefined) {
    throw configError('store.postgresUrl', 'is required when store.driver is postgres', source);
  }
  if (input.role !== 'all' && input.store.driver !== 'postgres') {
    // Replicas meet only in the store: SQLite is one process's file.
    throw configError('store.driver', `must be postgres when role is ${input.role} (replicas share one PostgreSQL store)`, source);
  }
  if (input.role === 'gateway' && input.region === undefined) {
    throw configError('region', 'is required when role is gateway (agents connect to the gateways of their region)', source);
  }
  const issuer = input.identity.mode === 'external' ? input.identity.external!.issuer : `${deploymentUrl}/oidc`;
  const agentAudience = input.agents.audience ?? `${deploymentUrl}/agent`;
  return {
    ...input,
    publicUrl,
    deploymentUrl,
    dataDir: absolute(input.dataDir),
    webRoot: input.webRoot === undefined ? DEFAULT_WEB_ROOT : absolute(input.webRoot),
    identity: { ...input.identity, audience: input.identity.audience ?? `${deploymentUrl}/v1`, issuer, totpKeyFile: input.identity.totpKeyFile === undefined ? join(absolute(input.dataDir), 'totp.key') : absolute(input.identity.totpKeyFile) },
    agentAudience,
    // This replica's own URL-derived audience too: agents enrolled through it before deploymentUrl was set carry that one.
    agentAudiences: [...new Set([agentAudience, `${publicUrl}/agent`])],
  };
}

/** Read the YAML file (if any), apply environment overrides, validate. */
export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv } = {}): RelayConfig {
  const env = options.env ?? process.env;
  const file = options.file ?? env[CONFIG_PATH_ENV];
  let fromFile: Record<string, unknown> = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      throw new LightsoutError('CONFIG_INVALID', `cannot read relay config file ${file}`, { cause, hint: 'check --config / LIGHTSOUT_RELAY_CONFIG', details: { key: '(file)' } });
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (cause) {
      throw new LightsoutError('CONFIG_INVALID', `relay config file ${file} is not valid YAML: ${(cause as Error).message}`, { cause, details: { key: '(file)' } });
    }
    if (parsed !== null && parsed !== undefined && !isRecord(parsed)) throw configError('(root)', 'must be a mapping of keys', file);
    fromFile = (parsed as Record<string, unknown> | null) ?? {};
  }
  const raw = merge(fromFile, environmentOverrides(env));
  return resolveConfig(raw, { source: file === undefined ? 'environment' : `${file} + environment`, baseDir: process.cwd() });
}
