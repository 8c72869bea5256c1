import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LightsoutError } from '@lightsout/shared';
import { keyOf, loadConfig, resolveConfig } from './load.js';

const directory = mkdtempSync(join(tmpdir(), 'lightsout-agent-config-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const valid = () => ({
  relay: 'http://127.0.0.1:8080/',
  name: 'fra1-agent',
  stateDir: 'state',
  credentials: [
    { id: 'lab', username: 'admin', passwordEnv: 'LAB_PASSWORD' },
    { id: 'vault', username: 'root', passwordFile: 'secret.txt' },
  ],
  servers: [
    { id: 'web-01', name: 'web-01.fra1', tenant: 'demo', rack: 'r12', ipmi: { host: '10.0.0.5', credentials: 'lab' } },
    { id: 'web-02', name: 'web-02.fra1', tenant: 'demo', rack: 'r12', redfish: { url: 'https://10.0.0.6/', credentials: 'vault' }, vnc: { url: 'vnc://10.0.0.6:5900' } },
  ],
});

writeFileSync(join(directory, 'secret.txt'), 's3cret-from-file\n');
const env = { LAB_PASSWORD: 'pw-from-env' };

function failure(document: unknown, environment: NodeJS.ProcessEnv = env): LightsoutError {
  try {
    resolveConfig(document, { source: 'agent.yaml', base: directory, env: environment });
  } catch (error) {
    if (error instanceof LightsoutError) return error;
    throw error;
  }
  throw new Error('config was accepted');
}

describe('agent config', () => {
  it('resolves defaults, credentials from env and file, and absolute paths', () => {
    const config = resolveConfig(valid(), { source: 'agent.yaml', base: directory, env });
    expect(config.relay).toBe('http://127.0.0.1:8080');
    expect(config.stateDir).toBe(join(directory, 'state'));
    expect(config.control).toEqual({ backoffBaseMs: 500, backoffCapMs: 5000, connectTimeoutMs: 10_000, stableAfterMs: 10_000, requestTimeoutMs: 30_000 });
    expect(config.servers[0]!.ipmi).toEqual({
      host: '10.0.0.5',
      port: 623,
      credentials: { username: 'admin', password: 'pw-from-env' },
      cipherSuite: 'auto',
      privilege: 'administrator',
      quirks: [],
    });
    expect(config.servers[1]!.redfish).toEqual({ url: 'https://10.0.0.6', credentials: { username: 'root', password: 's3cret-from-file' }, tls: { insecure: false }, quirks: [] });
    expect(config.joinToken).toBeUndefined();
  });

  it('takes the join token from the environment when the file has none', () => {
    const config = resolveConfig(valid(), { source: 'agent.yaml', base: directory, env: { ...env, LIGHTSOUT_JOIN_TOKEN: ' jt_abcdefghijklmnop \n' } });
    expect(config.joinToken).toBe('jt_abcdefghijklmnop');
  });

  it('takes metrics.listen as a port (on loopback) or host:port, off when absent, and refuses anything else', () => {
    const resolve = (listen: unknown) => resolveConfig({ ...valid(), metrics: { listen } }, { source: 'agent.yaml', base: directory, env }).metrics;
    expect(resolveConfig(valid(), { source: 'agent.yaml', base: directory, env }).metrics).toEqual({});
    expect(resolve(9464)).toEqual({ listen: { host: '127.0.0.1', port: 9464 } });
    expect(resolve('0.0.0.0:9464')).toEqual({ listen: { host: '0.0.0.0', port: 9464 } });
    expect(resolve('[::1]:9464')).toEqual({ listen: { host: '::1', port: 9464 } });
    expect(failure({ ...valid(), metrics: { listen: 'http://x' } })).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('metrics.listen') });
  });

  it('names the missing key', () => {
    const document = valid() as Record<string, unknown>;
    delete document['relay'];
    const error = failure(document);
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe('agent.yaml: relay is required');
  });

  it('takes a list of gateways (relays), keeps `relay` for one, and refuses both at once', () => {
    const { relay: _single, ...rest } = valid();
    const config = resolveConfig({ ...rest, relays: ['http://127.0.0.1:8150/', 'http://127.0.0.1:8151', 'http://127.0.0.1:8150'] }, { source: 'agent.yaml', base: directory, env });
    expect(config.relays).toEqual(['http://127.0.0.1:8150', 'http://127.0.0.1:8151']);
    expect(config.relay).toBe('http://127.0.0.1:8150');
    expect(resolveConfig(valid(), { source: 'agent.yaml', base: directory, env }).relays).toEqual(['http://127.0.0.1:8080']);
    expect(failure({ ...valid(), relays: ['http://127.0.0.1:8151'] }).message).toBe('agent.yaml: relay cannot be set together with relays');
    expect(failure({ ...rest, relays: [] }).code).toBe('CONFIG_INVALID');
  });

  it('refuses plain http to a relay that is not on this host, unless allowInsecureRelay says so', () => {
    const { relay: _single, ...rest } = valid();
    const refused = failure({ ...valid(), relay: 'http://relay.example.net' });
    expect(refused).toMatchObject({
      code: 'CONFIG_INVALID',
      message: 'agent.yaml: relay is plain http:// to relay.example.net, not a loopback address: anyone on the network path could act as the relay and read what the agent sends',
      hint: 'use https://, or set allowInsecureRelay: true if the network path is trusted',
      details: { key: 'relay' },
    });
    // The second gateway of a list is named; a network-namespace address is not loopback.
    expect(failure({ ...rest, relays: ['https://gw1.example.net', 'http://10.0.0.7:8080'] }).message).toMatch(/^agent\.yaml: relays\[1\] is plain http:\/\/ to 10\.0\.0\.7,/);
    expect(failure({ ...rest, relays: ['http://[fd00::1]:8080'] }).message).toMatch(/^agent\.yaml: relays\[0\] is plain http:\/\/ to \[fd00::1\],/);
    expect(failure({ ...valid(), relay: 'http://relay.example.net', allowInsecureRelay: false }).code).toBe('CONFIG_INVALID');
    expect(resolveConfig({ ...valid(), relay: 'http://relay.example.net', allowInsecureRelay: true }, { source: 'agent.yaml', base: directory, env })).toMatchObject({
      relay: 'http://relay.example.net',
      insecureRelays: ['http://relay.example.net'],
    });
    expect(failure({ ...valid(), allowInsecureRelay: 'yes' }).message).toBe('agent.yaml: allowInsecureRelay must be boolean');
  });

  it('takes plain http on loopback (127.0.0.0/8, ::1, localhost) and https to anywhere', () => {
    const { relay: _single, ...rest } = valid();
    const relays = ['http://127.0.0.1:8080', 'http://127.72.0.9:8080', 'http://[::1]:8080', 'http://localhost:8080', 'http://LocalHost', 'https://relay.example.net', 'https://10.0.0.7'];
    const config = resolveConfig({ ...rest, relays }, { source: 'agent.yaml', base: directory, env });
    expect(config.relays).toEqual([...relays.slice(0, 4), 'http://LocalHost', ...relays.slice(5)]);
    expect(config.insecureRelays).toEqual([]);
  });

  it('names a nested key with an invalid value', () => {
    const document = valid();
    (document.servers[0]!.ipmi as Record<string, unknown>)['port'] = 70_000;
    expect(failure(document).message).toBe('agent.yaml: servers[0].ipmi.port must be <= 65535');
  });

  it('names an unknown (misspelt) key', () => {
    const document = valid();
    (document.servers[1] as Record<string, unknown>)['redfsh'] = {};
    expect(failure(document).message).toBe('agent.yaml: servers[1].redfsh is not a known key');
  });

  it('refuses server ids that are not slugs', () => {
    const document = valid();
    document.servers[0]!.id = 'Web/01';
    expect(failure(document).message).toMatch(/^agent\.yaml: servers\[0\]\.id has an invalid format/);
  });

  it('refuses a credentials reference to an unset variable without printing any secret', () => {
    const error = failure(valid(), {});
    expect(error.message).toBe('agent.yaml: credentials[0].passwordEnv names LAB_PASSWORD, which is not set in the environment');
    expect(error.hint).toBe('export LAB_PASSWORD before starting the agent');
  });

  it('refuses an entry with both or neither password source', () => {
    const document = valid();
    (document.credentials[0] as Record<string, unknown>)['passwordFile'] = 'secret.txt';
    expect(failure(document).message).toBe('agent.yaml: credentials[0] needs exactly one of passwordEnv or passwordFile');
  });

  it('refuses an endpoint naming unknown credentials, and duplicate server ids', () => {
    const unknownCredentials = valid();
    unknownCredentials.servers[0]!.ipmi!.credentials = 'nope';
    expect(failure(unknownCredentials).message).toBe('agent.yaml: servers[0].ipmi.credentials names nope, which is not under credentials');
    const duplicate = valid();
    duplicate.servers[1]!.id = 'web-01';
    expect(failure(duplicate).message).toBe('agent.yaml: servers[1].id repeats the server id web-01');
  });

  it('reports YAML syntax errors and unreadable files as CONFIG_INVALID', () => {
    const broken = join(directory, 'broken.yaml');
    writeFileSync(broken, 'relay: [unclosed\n');
    expect(() => loadConfig(broken, env)).toThrow(/not valid YAML/);
    expect(() => loadConfig(join(directory, 'absent.yaml'), env)).toThrow(/cannot read the agent config/);
  });

  it('loads a YAML file end to end', () => {
    const path = join(directory, 'agent.yaml');
    writeFileSync(path, ['relay: http://127.0.0.1:1', 'name: a', 'stateDir: /var/lib/lightsout-agent', 'servers: []', ''].join('\n'));
    expect(loadConfig(path, env).stateDir).toBe('/var/lib/lightsout-agent');
  });

  it('turns JSON pointers into the keys an operator reads', () => {
    expect(keyOf('/servers/3/ipmi/port')).toBe('servers[3].ipmi.port');
    expect(keyOf('')).toBe('');
  });
});

describe('agent config: discovery', () => {
  it('applies the defaults, keeps the credential sets by id, and needs no servers', () => {
    const { servers: _servers, ...rest } = valid();
    const config = resolveConfig({ ...rest, discovery: { ranges: ['10.0.8.0/22'] } }, { source: 'agent.yaml', base: directory, env });
    expect(config.servers).toEqual([]);
    expect(config.discovery).toEqual({ ranges: ['10.0.8.0/22'], intervalSeconds: 3600, probesPerSecond: 500, concurrency: 128, timeoutMs: 1000, retries: 1, ipmiPort: 623, redfishPort: 443, protocols: ['ipmi', 'redfish'] });
    expect(config.credentialSets.get('lab')).toEqual({ username: 'admin', password: 'pw-from-env' });
    expect(resolveConfig(valid(), { source: 'agent.yaml', base: directory, env }).discovery).toBeUndefined();
  });

  it('names the range it cannot use', () => {
    const error = failure({ ...valid(), discovery: { ranges: ['10.0.8.0/24', '10.0.8.1/22'] } });
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('discovery.ranges[1]');
    expect(failure({ ...valid(), discovery: { ranges: ['10.0.0.0/8'] } }).message).toContain('/16 to /32');
  });
});
