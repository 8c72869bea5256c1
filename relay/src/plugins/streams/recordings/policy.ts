import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LightsoutError, RecordingRules, type StreamKind } from '@lightsout/shared';
import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';

/** One tenant's rules (or the defaults, under "*"); what a rule leaves out falls back to "*", then to the built-in default. */
const TenantRules = RecordingRules;
const PolicyFile = Type.Record(Type.String(), TenantRules);
type PolicyFile = Static<typeof PolicyFile>;
const policyFile = Compile(PolicyFile);
/** "*" or a tenant slug (shared Slug). */
const POLICY_KEY = /^(\*|[a-z0-9][a-z0-9-]{0,62})$/;

export const RECORDING_POLICY_FILE = 'recording-policy.json';

/** Whether a tenant's consoles of a kind are recorded, and how long its recordings are kept. */
export interface RecordingPolicy {
  records(tenant: string, kind: StreamKind): boolean;
  /** Days a tenant's recordings are kept, or undefined: kept until deleted. */
  retentionDays(tenant: string): number | undefined;
}

/** A tenant's rules kept in the store (set through the API), which replace the file's entry for that tenant. */
export type StoredRules = (tenant: string) => RecordingRules | undefined;

/** Without a policy file: text consoles are recorded, VNC is not, nothing expires. */
const builtIn: Required<Pick<Static<typeof TenantRules>, Exclude<StreamKind, 'web'>>> = { sol: true, serial: true, vnc: false };

export function recordingPolicy(rules: PolicyFile, stored: StoredRules = () => undefined): RecordingPolicy {
  const fallback = rules['*'] ?? {};
  const rulesOf = (tenant: string): RecordingRules | undefined => stored(tenant) ?? rules[tenant];
  return {
    // A web UI's streams are HTTP: the BMC's login form, its session cookies. Never kept, whatever a policy says.
    records: (tenant, kind) => kind !== 'web' && (rulesOf(tenant)?.[kind] ?? fallback[kind] ?? builtIn[kind]),
    retentionDays: (tenant) => {
      const own = rulesOf(tenant);
      const days = own !== undefined && 'retentionDays' in own ? own.retentionDays : fallback.retentionDays;
      return days ?? undefined;
    },
  };
}

/**
 * Per-tenant recording policy from `dataDir/recording-policy.json`:
 * `{"*": {"sol": true, "serial": true, "vnc": false, "retentionDays": 90}, "acme": {"vnc": true, "retentionDays": 30}}`.
 * A file that is not valid JSON or does not match the schema stops the relay
 * at start (CONFIG_INVALID, naming the key): a typo must not silently record
 * what a tenant asked not to, or delete what it asked to keep.
 */
export function loadRecordingPolicy(dataDir: string, stored?: StoredRules): RecordingPolicy {
  const path = join(dataDir, RECORDING_POLICY_FILE);
  if (!existsSync(path)) return recordingPolicy({}, stored);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new LightsoutError('CONFIG_INVALID', `recording policy ${path} is not valid JSON: ${(cause as Error).message}`, { cause, details: { key: '(file)' } });
  }
  const invalid = (key: string, problem: string) =>
    new LightsoutError('CONFIG_INVALID', `recording policy ${path}: "${key}" ${problem}`, {
      hint: 'keys are "*" or tenant slugs; values {sol, serial, vnc: boolean, retentionDays: 1–36500 or null}',
      details: { key },
    });
  if (!policyFile.Check(parsed)) {
    const [first] = policyFile.Errors(parsed);
    const key = first?.instancePath ? first.instancePath.slice(1).replaceAll('/', '.') : '(root)';
    // additionalProperties: false reports a stray key as "schema is false".
    throw invalid(key, first?.keyword === 'additionalProperties' || first?.message === 'schema is false' ? 'is not a known setting' : (first?.message ?? 'is invalid'));
  }
  const stray = Object.keys(parsed).find((key) => !POLICY_KEY.test(key));
  if (stray !== undefined) throw invalid(stray, 'is neither "*" nor a tenant slug');
  return recordingPolicy(parsed, stored);
}
