import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCredentials, writeCredentials } from './config-store.js';
import { ExitCode } from './exit-codes.js';
import { run } from './main.js';
import { table } from './output.js';
import { relayStub, requestLine } from './testing/relay-stub.js';

const directory = mkdtempSync(join(tmpdir(), 'lightsout-cli-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

async function runCaptured(argv: string[], env: NodeJS.ProcessEnv = { LIGHTSOUT_CONFIG_DIR: join(directory, 'empty') }) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { env, output: { out: (text) => (stdout += text), err: (text) => (stderr += text) } });
  return { code, stdout, stderr };
}

/** A relay stand-in answering every request alike. */
const relayAnswering = (status: number, body: unknown) => relayStub(() => ({ status, body }));

describe('lightsout CLI', () => {
  it('registers every command in program.ts: no module under commands/ builds commands of its own', () => {
    const commands = new URL('./commands/', import.meta.url);
    const registering = readdirSync(commands)
      .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
      .filter((name) => /\.command\(|from 'commander'/.test(readFileSync(new URL(name, commands), 'utf8')));
    expect(registering).toEqual([]);
  });

  it('renders aligned tables with - for missing values', () => {
    expect(table(['ID', 'POWER'], [['web-01', 'on'], ['db', null]])).toBe('ID      POWER\nweb-01  on\ndb      -\n');
  });

  it('exits 2 on usage errors and 0 on --help', async () => {
    expect((await runCaptured(['power', 'explode', 'web-01'])).code).toBe(ExitCode.USAGE);
    expect((await runCaptured(['agents', 'token', 'create', '--region', 'eu'])).code).toBe(ExitCode.USAGE);
    expect((await runCaptured(['nonsense'])).code).toBe(ExitCode.USAGE);
    expect((await runCaptured(['--help'])).code).toBe(ExitCode.OK);
  });

  it('exits 3 with a hint when not logged in', async () => {
    const result = await runCaptured(['servers', 'list', '--relay', 'http://127.0.0.1:9']);
    expect(result.code).toBe(ExitCode.AUTH);
    expect(result.stderr).toBe('error UNAUTHENTICATED: not logged in to http://127.0.0.1:9\nhint: run `lightsout login --relay http://127.0.0.1:9`\n');
  });

  it('sends LIGHTSOUT_TOKEN as the bearer and maps relay error codes to exit codes', async () => {
    const relay = await relayAnswering(404, { code: 'NOT_FOUND', message: 'no server nope', hint: 'run `lightsout servers list`' });
    try {
      const result = await runCaptured(['power', 'status', 'nope'], { LIGHTSOUT_TOKEN: 'tok-123', LIGHTSOUT_RELAY: relay.url, LIGHTSOUT_CONFIG_DIR: join(directory, 'unused') });
      expect(result).toEqual({ code: ExitCode.NOT_FOUND, stdout: '', stderr: 'error NOT_FOUND: no server nope\nhint: run `lightsout servers list`\n' });
      expect(relay.seen.map(requestLine)).toEqual([{ method: 'POST', url: '/v1/servers/nope/power', authorization: 'Bearer tok-123', body: { action: 'status' } }]);
    } finally {
      await relay.close();
    }
    const offline = await relayAnswering(503, { code: 'AGENT_OFFLINE', message: 'agent fra1 is offline' });
    try {
      const result = await runCaptured(['sensors', 'web-01', '--relay', offline.url], { LIGHTSOUT_TOKEN: 't' });
      expect(result.code).toBe(ExitCode.UNAVAILABLE);
    } finally {
      await offline.close();
    }
  });

  it('prints the server table from the relay answer', async () => {
    const server = { id: 'web-01', name: 'web-01.fra1', tenant: 'demo', region: 'eu', datacenter: 'fra1', rack: 'r12', labels: {}, endpoints: {}, capabilities: [], agentId: 'a1', agent: 'online', power: 'on', stateAt: null };
    const relay = await relayAnswering(200, { servers: [server] });
    try {
      const result = await runCaptured(['servers', 'list'], { LIGHTSOUT_TOKEN: 't', LIGHTSOUT_RELAY: relay.url });
      expect(result.stdout).toBe('ID      NAME         TENANT  REGION  DC    RACK  POWER  AGENT\nweb-01  web-01.fra1  demo    eu      fra1  r12   on     online\n');
      const asJson = await runCaptured(['servers', 'list', '--json'], { LIGHTSOUT_TOKEN: 't', LIGHTSOUT_RELAY: relay.url });
      expect(JSON.parse(asJson.stdout)).toEqual({ servers: [server] });
    } finally {
      await relay.close();
    }
  });

  it('exits 1 naming the URL when the relay cannot be reached', async () => {
    const relay = await relayAnswering(200, {});
    await relay.close();
    const result = await runCaptured(['agents', 'list'], { LIGHTSOUT_TOKEN: 't', LIGHTSOUT_RELAY: relay.url });
    expect(result.code).toBe(ExitCode.ERROR);
    expect(result.stderr).toMatch(new RegExp(`^error RELAY_UNREACHABLE: cannot reach ${relay.url} \\(ECONNREFUSED\\)\\n`));
  });

  it('stores credentials 0600 in a 0700 directory, and logout removes them', async () => {
    const env = { LIGHTSOUT_CONFIG_DIR: join(directory, 'store') };
    await writeCredentials(env, {
      version: 1,
      current: 'http://127.0.0.1:9',
      sessions: { 'http://127.0.0.1:9': { relay: 'http://127.0.0.1:9', issuer: 'i', clientId: 'c', audience: 'a', tokenEndpoint: 't', accessToken: 'x', expiresAt: 0 } },
    });
    expect(statSync(join(env.LIGHTSOUT_CONFIG_DIR, 'credentials.json')).mode & 0o777).toBe(0o600);
    expect(statSync(env.LIGHTSOUT_CONFIG_DIR).mode & 0o777).toBe(0o700);
    const expired = await runCaptured(['whoami'], env);
    expect(expired.code).toBe(ExitCode.AUTH);
    expect(expired.stderr).toMatch(/^error TOKEN_EXPIRED: the login to http:\/\/127\.0\.0\.1:9 has expired/);
    expect((await runCaptured(['logout'], env)).code).toBe(ExitCode.OK);
    expect(await readCredentials(env)).toEqual({ version: 1, sessions: {} });
  });
});
