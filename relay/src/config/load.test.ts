import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LightsoutError } from '@lightsout/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { environmentOverrides, loadConfig, resolveConfig } from './load.js';

const directory = mkdtempSync(join(tmpdir(), 'lightsout-config-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function configFile(text: string): string {
  const file = join(directory, `relay-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
}

function refusal(run: () => unknown): LightsoutError {
  try {
    run();
  } catch (error) {
    if (error instanceof LightsoutError) return error;
    throw error;
  }
  throw new Error('expected a LightsoutError');
}

describe('relay config', () => {
  it('has defaults that run the embedded setup on loopback', () => {
    const config = loadConfig({ env: {} });
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8080, backlog: 2048 });
    expect(config.limits.bmcOperations).toEqual({
      perTenant: 64,
      perTenantPerAgent: 16,
      perToken: { perSecond: 20, burst: 40 },
      perSubject: { perSecond: 20, burst: 100 },
      perTenantRate: { perSecond: 50, burst: 200 },
    });
    expect(config.limits.enrollment).toEqual({ failuresPerAddress: { perSecond: 0.1, burst: 10 }, failureAuditWindowSeconds: 60 });
    expect(config.publicUrl).toBe('http://127.0.0.1:8080');
    expect(config.identity.issuer).toBe('http://127.0.0.1:8080/oidc');
    expect(config.identity.audience).toBe('http://127.0.0.1:8080/v1');
    expect(config.agentAudience).toBe('http://127.0.0.1:8080/agent');
    expect(config.agentAudiences).toEqual(['http://127.0.0.1:8080/agent']);
    expect(config.agents.heartbeatIntervalMs).toBe(5000);
    expect(config.agents.missedHeartbeats).toBe(3);
    expect(config.store.driver).toBe('sqlite');
    expect(config.dataDir).toMatch(/\.data\/relay$/);
  });

  it('reads YAML and lets the environment override it, converting types', () => {
    const file = configFile('listen:\n  port: 9000\npublicUrl: https://relay.example\nagents:\n  heartbeatIntervalMs: 2000\n');
    const config = loadConfig({ file, env: { LIGHTSOUT_RELAY__AGENTS__HEARTBEAT_INTERVAL_MS: '750', LIGHTSOUT_RELAY__IDENTITY__SEED_DEMO: 'false' } });
    expect(config.listen.port).toBe(9000);
    expect(config.agents.heartbeatIntervalMs).toBe(750);
    expect(config.identity.seedDemo).toBe(false);
    expect(config.identity.issuer).toBe('https://relay.example/oidc');
  });

  it('maps SCREAMING_SNAKE environment names onto camelCase keys', () => {
    expect(environmentOverrides({ LIGHTSOUT_RELAY__PUBLIC_URL: 'x', LIGHTSOUT_RELAY__STORE__SQLITE_FILE: 'y', OTHER: 'z' })).toEqual({ publicUrl: 'x', store: { sqliteFile: 'y' } });
  });

  it('names the offending key for an out-of-range value', () => {
    const error = refusal(() => loadConfig({ file: configFile('listen:\n  port: 70000\n'), env: {} }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('"listen.port"');
    expect(error.details).toEqual({ key: 'listen.port' });
  });

  it('names the offending key for a wrong type from the environment', () => {
    const error = refusal(() => loadConfig({ env: { LIGHTSOUT_RELAY__AGENTS__HEARTBEAT_INTERVAL_MS: 'soon' } }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.details).toEqual({ key: 'agents.heartbeatIntervalMs' });
  });

  it('names an unknown key instead of ignoring it', () => {
    const error = refusal(() => resolveConfig({ agents: { heartbeatIntervalMillis: 5 } }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.details).toEqual({ key: 'agents.heartbeatIntervalMillis' });
    expect(error.message).toContain('not a known setting');
  });

  it('refuses invalid YAML and a missing file with CONFIG_INVALID', () => {
    expect(refusal(() => loadConfig({ file: configFile('listen: [1,\n'), env: {} })).code).toBe('CONFIG_INVALID');
    expect(refusal(() => loadConfig({ file: join(directory, 'absent.yaml'), env: {} })).code).toBe('CONFIG_INVALID');
  });

  it('requires the external issuer section in external mode, and the URL for postgres', () => {
    expect(refusal(() => resolveConfig({ identity: { mode: 'external' } })).details).toEqual({ key: 'identity.external' });
    expect(refusal(() => resolveConfig({ store: { driver: 'postgres' } })).details).toEqual({ key: 'store.postgresUrl' });
  });

  it('runs the single process (role all) unless told otherwise, with the deployment URL its own', () => {
    const config = resolveConfig({ publicUrl: 'https://relay.example' });
    expect(config.role).toBe('all');
    expect(config.region).toBeUndefined();
    expect(config.deploymentUrl).toBe('https://relay.example');
  });

  it('refuses a manager or gateway without the shared PostgreSQL store, naming store.driver', () => {
    for (const role of ['manager', 'gateway']) {
      const error = refusal(() => resolveConfig({ role, region: 'eu-central' }));
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.details).toEqual({ key: 'store.driver' });
      expect(error.message).toContain(`role is ${role}`);
    }
  });

  it('requires a region for a gateway, not for a manager', () => {
    const postgres = { driver: 'postgres', postgresUrl: 'postgres://lightsout@127.0.0.1:5432/lightsout' };
    const error = refusal(() => resolveConfig({ role: 'gateway', store: postgres }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.details).toEqual({ key: 'region' });
    expect(resolveConfig({ role: 'manager', store: postgres }).region).toBeUndefined();
    const gateway = resolveConfig({ role: 'gateway', region: 'eu-central', publicUrl: 'https://gw1.eu.example', deploymentUrl: 'https://lightsout.example', store: postgres });
    expect(gateway).toMatchObject({ role: 'gateway', region: 'eu-central', publicUrl: 'https://gw1.eu.example', deploymentUrl: 'https://lightsout.example' });
  });

  it('refuses an unknown role and a malformed region from the environment', () => {
    expect(refusal(() => loadConfig({ env: { LIGHTSOUT_RELAY__ROLE: 'proxy' } })).details).toEqual({ key: 'role' });
    expect(refusal(() => loadConfig({ env: { LIGHTSOUT_RELAY__REGION: 'EU Central' } })).details).toEqual({ key: 'region' });
  });
});
