import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Fleet, startFleet } from '@lightsout/bmcsim';
import { type IpmiSimLab, startIpmiSim } from '@lightsout/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginWithPassword } from '@lightsout/relay/testing';
import { startSerialWebSocketEcho } from '@lightsout/integration/bmc-peers';
import { type SshKeyFiles, type SshRun, type SshTarget, sshFingerprint, sshInPty, sshKeygen, sshPiped } from '../lib/openssh.js';
import { eventually, until } from '../lib/processes.js';

const run = promisify(execFile);
import { type Stack, startStack } from '../lib/stack.js';
import { freeTcpPort } from '@lightsout/lab';

/**
 * The SSH front door with Debian's OpenSSH client, a client no one here
 * wrote: relay and agent processes, a bmcsim BMC (its host runs a login
 * shell on SOL), OpenIPMI's ipmi_sim (SOL to a host UART the test plays),
 * and a serial console of another tenant. Keys come from ssh-keygen and are
 * registered through the REST API; the host key is pinned from the API's
 * answer (StrictHostKeyChecking=yes), so a connection also proves the relay
 * serves the key it publishes.
 */
const BRAVO_PASSWORD = 'bravo-operator-password-1';
/** Short, so the expired certificate's refusal is seen within the test; long enough to connect with it first on a loaded machine. */
const CERTIFICATE_TTL_SECONDS = 30;
const cliBin = fileURLToPath(new URL('../../cli/bin/lightsout.js', import.meta.url));
const VIEWER_PASSWORD = 'demo-viewer-password-1';

describe('ssh <server>@relay', () => {
  let directory: string;
  let fleet: Fleet;
  let lab: IpmiSimLab;
  let bravoEcho: Awaited<ReturnType<typeof startSerialWebSocketEcho>>;
  let stack: Stack;
  let sshPort: number;
  let knownHosts: string;
  let bravoToken: string;
  let viewerToken: string;
  let hostKey: { publicKey: string; fingerprint: string; port: number };
  const keys: Record<'operator' | 'bravo' | 'viewer' | 'revoked' | 'unregistered', SshKeyFiles> = {} as never;
  const typedAtSim: Buffer[] = [];
  const runs = new Set<SshRun>();

  async function api(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${stack.relayUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
  }
  const target = (key: SshKeyFiles): SshTarget => ({ port: sshPort, knownHosts, key });
  const piped = (key: SshKeyFiles, user: string, command?: string[], options?: string[]) => {
    const run = sshPiped(target(key), user, command, options);
    runs.add(run);
    return run;
  };
  const inPty = (key: SshKeyFiles, user: string) => {
    const run = sshInPty(target(key), user);
    runs.add(run);
    return run;
  };

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'lightsout-ssh-'));
    for (const name of ['operator', 'bravo', 'viewer', 'revoked', 'unregistered'] as const) keys[name] = sshKeygen(directory, name, name === 'bravo' ? 'ecdsa' : name === 'viewer' ? 'rsa' : 'ed25519', name === 'viewer' ? 3072 : undefined);
    fleet = await startFleet({ count: 1, address: '127.0.0.1', ports: { ipmi: 0, web: 0, vnc: 0 }, tls: false, startPowered: true, timings: { postMs: 5, bootMs: 5 } });
    const host = fleet.bmcs[0]!.bmc.host;
    const type = host.type.bind(host);
    host.type = (bytes: Uint8Array) => {
      typedAtSim.push(Buffer.from(bytes));
      type(bytes);
    };
    lab = await startIpmiSim();
    bravoEcho = await startSerialWebSocketEcho();
    sshPort = await freeTcpPort();
    const simIpmi = fleet.bmcs[0]!.ipmi;
    stack = await startStack(
      [
        { id: 'sim-01', ipmi: { host: simIpmi.host, port: simIpmi.port, credentials: 'bmcsim-admin', cipherSuite: 'auto', privilege: 'administrator' } },
        { id: 'lab-01', ipmi: { host: lab.host, port: lab.port, credentials: 'lab-admin', cipherSuite: 3, privilege: 'administrator' } },
        { id: 'gfx-01', vnc: { url: 'vnc://127.0.0.1:5999' } },
        { id: 'bravo-01', tenant: 'bravo', serial: { url: bravoEcho.url } },
      ],
      {
        relayConfig: { ssh: { port: sshPort, failedAuthPerAddress: { perSecond: 0.01, burst: 30 }, certificateTtlSeconds: CERTIFICATE_TTL_SECONDS } },
        agentEnv: { BMCSIM_ADMIN_PASSWORD: 'adminpass', LAB_ADMIN_PASSWORD: 'adminpass' },
        agentCredentials: [
          { id: 'bmcsim-admin', username: 'admin', passwordEnv: 'BMCSIM_ADMIN_PASSWORD' },
          { id: 'lab-admin', username: 'admin', passwordEnv: 'LAB_ADMIN_PASSWORD' },
        ],
        beforeAgent: async (running) => {
          const admin = running.adminToken;
          const post = async (path: string, body: unknown) => {
            const response = await fetch(`${running.relayUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
            expect(response.status, `${path}: ${await response.clone().text()}`).toBe(201);
          };
          await post('/v1/tenants', { id: 'bravo', name: 'Bravo' });
          await post('/v1/users', { username: 'bravo-operator', password: BRAVO_PASSWORD, role: 'operator', tenant: 'bravo' });
          await post('/v1/users', { username: 'demo-viewer', password: VIEWER_PASSWORD, role: 'viewer', tenant: 'demo' });
        },
      },
    );
    bravoToken = (await loginWithPassword(stack.relayUrl, 'bravo-operator', BRAVO_PASSWORD)).accessToken;
    viewerToken = (await loginWithPassword(stack.relayUrl, 'demo-viewer', VIEWER_PASSWORD)).accessToken;
    for (const [name, token] of [['operator', stack.operatorToken], ['bravo', bravoToken], ['viewer', viewerToken], ['revoked', stack.operatorToken]] as const) {
      const added = await api(token, 'POST', '/v1/me/ssh-keys', { publicKey: keys[name].publicKey });
      expect(added.status, JSON.stringify(added.body)).toBe(201);
    }
    hostKey = (await api(stack.operatorToken, 'GET', '/v1/ssh/host-key')).body as typeof hostKey;
    expect(hostKey.port).toBe(sshPort);
    knownHosts = join(directory, 'known_hosts');
    writeFileSync(knownHosts, `[127.0.0.1]:${sshPort} ${hostKey.publicKey}\n`);
  }, 180_000);

  afterAll(async () => {
    for (const run of runs) run.kill();
    await stack?.close();
    await bravoEcho?.close();
    await lab?.stop();
    await fleet?.stop();
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
  });

  it('publishes the host key fingerprint that ssh-keygen computes from the key itself', () => {
    expect(hostKey.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(hostKey.fingerprint).toBe(sshFingerprint(directory, hostKey.publicKey));
  });

  it('opens SOL on a bmcsim server in a pty (ssh -tt), types a command, sees the echo, and leaves with ~.', async () => {
    const run = inPty(keys.operator, 'sim-01');
    await until(() => run.stdout().includes('~. to leave'), 30_000, () => `the banner; stdout: ${run.stdout()} stderr: ${run.stderr()}`);
    run.write('\r');
    await until(() => /login: /.test(run.stdout()), 30_000, () => `the login prompt; got ${JSON.stringify(run.stdout())}`);
    run.write('root\r');
    await until(() => run.stdout().includes('root@sim-01'), 30_000, 'the shell prompt');
    run.write('echo ssh-front-door-works\r');
    await until(() => /ssh-front-door-works\r\n.*root@sim-01/s.test(run.stdout()), 30_000, () => `the echo; got ${JSON.stringify(run.stdout().slice(-300))}`);
    expect(Buffer.concat(typedAtSim).toString('latin1')).toContain('echo ssh-front-door-works');
    // OpenSSH's own `~B` in a pty is an RFC 4335 break request: the gateway sends a SOL break.
    run.write('\r~B');
    await until(() => run.stdout().includes('[lightsout: break sent]'), 10_000, () => `the break notice; got ${JSON.stringify(run.stdout().slice(-300))}`);
    // OpenSSH's own `~.`: the client drops the connection (status 255), the gateway leaves the session at once.
    run.write('\r~.');
    expect(await run.exited).toBe(255);
    expect(run.stdout()).not.toContain('[lightsout: leaving the console]');
    // The dropped connection leaves the console session now (no one can resume an SSH channel): no live leg is left.
    await eventually('the relay to count no live session on sim-01', 10_000, async () => ((await api(stack.operatorToken, 'GET', '/v1/servers/sim-01')).body['sessions'] === 0 ? true : undefined));
  }, 90_000);

  it('opens SOL on ipmi_sim without a pty (piped): typed bytes reach the host UART, its output comes back, and ~. at a line start leaves with status 0', async () => {
    lab.uart.clearReceived();
    const run = piped(keys.operator, 'lab-01');
    await until(() => run.stderr().includes('~. to leave'), 30_000, () => `the banner; stderr: ${run.stderr()}`);
    await lab.uart.waitForSolConnection(20_000);
    run.write('uname -a\r');
    await lab.uart.waitForReceived((bytes) => Buffer.from(bytes).toString('latin1').includes('uname -a\r'), 20_000);
    lab.uart.write('uname -a\r\nLinux lab-01 6.1.0 x86_64\r\n');
    await until(() => run.stdout().includes('Linux lab-01 6.1.0'), 20_000, () => `the host output; got ${JSON.stringify(run.stdout())}`);
    // No pty: OpenSSH does no escape processing, so the gateway's own scanner sees `~.` after the newline.
    run.write('~.');
    expect(await run.exited).toBe(0);
    expect(run.stderr()).toContain('[lightsout: leaving the console]');
    expect(Buffer.from(lab.uart.received()).toString('latin1')).not.toContain('~.');
  }, 90_000);

  it('in a pty, ~~ passes the escape through OpenSSH to the gateway: ~~? prints its help and ~~. leaves with status 0', async () => {
    const run = inPty(keys.operator, 'lab-01');
    await until(() => run.stdout().includes('~. to leave'), 30_000, () => `the banner; stdout: ${run.stdout()}`);
    run.write('\r~~?');
    await until(() => run.stdout().includes('Supported escape sequences'), 10_000, () => `the gateway's help; got ${JSON.stringify(run.stdout().slice(-300))}`);
    run.write('\r~~.');
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toContain('[lightsout: leaving the console]');
  }, 60_000);

  it('the console opens at sign-in, before the shell request; a connection that asks for no shell (a command, ssh -N) does not keep it', async () => {
    const sessionsOnSim = async () => (await api(stack.operatorToken, 'GET', '/v1/servers/sim-01')).body['sessions'];
    await eventually('no live session on sim-01 before', 10_000, async () => ((await sessionsOnSim()) === 0 ? true : undefined));
    const command = piped(keys.operator, 'sim-01', ['uptime']);
    command.child.stdin!.end();
    expect(await command.exited).toBe(2);
    expect(command.stderr()).toContain('this gateway runs no commands');
    await eventually('no console left by the command', 10_000, async () => ((await sessionsOnSim()) === 0 ? true : undefined));
    // No session channel at all: the console opened at sign-in waits for a shell, then is left while the connection stays.
    const noShell = piped(keys.operator, 'sim-01', [], ['-N']);
    await eventually('the console opened at sign-in', 20_000, async () => ((await sessionsOnSim()) === 1 ? true : undefined));
    await eventually('the unclaimed console to be left', 30_000, async () => ((await sessionsOnSim()) === 0 ? true : undefined));
    expect(noShell.child.exitCode).toBeNull();
    noShell.kill();
  }, 90_000);

  it('watching (sim-01+view) refuses input: the user is told and the host never sees it', async () => {
    const before = Buffer.concat(typedAtSim).length;
    const run = piped(keys.operator, 'sim-01+view');
    await until(() => run.stderr().includes('read-only view'), 30_000, () => `the banner; stderr: ${run.stderr()}`);
    run.write('reboot-now\r');
    await until(() => run.stderr().includes('read-only view: input is not sent'), 20_000, () => `the refusal; stderr: ${run.stderr()}`);
    run.write('\r~.');
    expect(await run.exited).toBe(0);
    expect(Buffer.concat(typedAtSim).subarray(before).toString('latin1')).not.toContain('reboot-now');
  }, 60_000);

  it('a viewer key may watch but not type: control is refused with exit status 3', async () => {
    const refused = piped(keys.viewer, 'sim-01');
    refused.child.stdin!.end();
    expect(await refused.exited).toBe(3);
    expect(refused.stderr()).toMatch(/FORBIDDEN: your role \(viewer\) may not console\.control/);
    expect(refused.stderr()).toContain('sim-01+view');
  }, 60_000);

  it('a key of tenant bravo cannot open a demo server, and the demo key cannot open bravo\'s (NOT_FOUND, status 4); each opens its own', async () => {
    const bravoOnDemo = piped(keys.bravo, 'sim-01');
    bravoOnDemo.child.stdin!.end();
    expect(await bravoOnDemo.exited).toBe(4);
    expect(bravoOnDemo.stderr()).toContain('NOT_FOUND: no server sim-01');
    expect(bravoOnDemo.stderr()).toContain('bravo-01');
    expect(bravoOnDemo.stderr()).not.toContain('lab-01');

    const demoOnBravo = piped(keys.operator, 'bravo-01');
    demoOnBravo.child.stdin!.end();
    expect(await demoOnBravo.exited).toBe(4);
    expect(demoOnBravo.stderr()).not.toMatch(/^\s+bravo-01/m);

    const own = piped(keys.bravo, 'bravo-01');
    await until(() => own.stderr().includes('~. to leave'), 30_000, 'bravo\'s own console');
    own.write('bravo-typed\r');
    await until(() => own.stdout().includes('bravo-typed'), 20_000, 'the echo on bravo\'s console');
    // A serial port has no break: said clearly instead of pretending.
    own.write('~B');
    await until(() => own.stderr().includes('this console has no serial break'), 10_000, 'the no-break notice');
    own.write('~.');
    expect(await own.exited).toBe(0);
  }, 90_000);

  it('a bare login lists the consoles the key may open; a server without a serial console is refused with status 5', async () => {
    const list = piped(keys.operator, 'operator');
    list.child.stdin!.end();
    expect(await list.exited).toBe(0);
    expect(list.stdout()).toMatch(/sim-01\s+sol\s+online/);
    expect(list.stdout()).toMatch(/lab-01\s+sol/);
    expect(list.stdout()).not.toContain('gfx-01');
    expect(list.stdout()).not.toContain('bravo-01');

    const graphical = piped(keys.operator, 'gfx-01');
    graphical.child.stdin!.end();
    expect(await graphical.exited).toBe(5);
    expect(graphical.stderr()).toContain('BMC_UNSUPPORTED: server gfx-01 has no serial console');
  }, 60_000);

  it('an unregistered key and a removed key are refused; removing a key ends its live connection', async () => {
    const stranger = piped(keys.unregistered, 'sim-01');
    expect(await stranger.exited).toBe(255);
    expect(stranger.stderr()).toContain('Permission denied (publickey)');

    const live = piped(keys.revoked, 'sim-01+view');
    await until(() => live.stderr().includes('~. to leave'), 30_000, 'the console with the key about to be removed');
    const listed = (await api(stack.operatorToken, 'GET', '/v1/me/ssh-keys')).body as { keys: Array<{ id: string; fingerprint: string; publicKey: string }> };
    const revoked = listed.keys.find((key) => keys.revoked.publicKey.startsWith(key.publicKey))!;
    expect(revoked.fingerprint).toBe(sshFingerprint(directory, keys.revoked.publicKey));
    expect((await api(stack.operatorToken, 'DELETE', `/v1/me/ssh-keys/${revoked.id}`)).status).toBe(200);
    await live.exited;

    const again = piped(keys.revoked, 'sim-01');
    expect(await again.exited).toBe(255);
    expect(again.stderr()).toContain('Permission denied (publickey)');
  }, 60_000);

  it('lightsout ssh login: a certificate of the relay CA logs in with a key no one registered; the key alone does not, and once expired neither does the certificate', async () => {
    const { stdout } = await run(process.execPath, [cliBin, 'ssh', 'login', '--json'], {
      env: { ...process.env, LIGHTSOUT_RELAY: stack.relayUrl, LIGHTSOUT_TOKEN: stack.operatorToken, LIGHTSOUT_CONFIG_DIR: join(directory, 'cli-config') },
      timeout: 60_000,
    });
    const issued = JSON.parse(stdout) as { key: string; certificatePath: string; principals: string[]; validBefore: string; keyId: string };
    expect(issued.principals).toEqual(['operator']);
    expect(issued.certificatePath).toBe(`${issued.key}-cert.pub`);
    // OpenSSH's own reading of the certificate the relay signed.
    const listed = execFileSync('ssh-keygen', ['-L', '-f', issued.certificatePath], { encoding: 'utf8' });
    expect(listed).toMatch(/Principals: \n\s+operator\n/);
    expect(listed).toContain(`Key ID: "${issued.keyId}"`);
    const certified: SshKeyFiles = { privateKey: issued.key, publicKey: readFileSync(`${issued.key}.pub`, 'utf8').trim() };

    const withCertificate = piped(certified, 'sim-01+view');
    await until(() => withCertificate.stderr().includes('~. to leave'), 30_000, () => `the console through the certificate; stderr: ${withCertificate.stderr()}`);
    withCertificate.child.stdin!.end();
    expect(await withCertificate.exited).toBe(0);

    // The same key without its certificate beside it is an unregistered key.
    const bare = join(directory, 'bare-key');
    copyFileSync(issued.key, bare);
    chmodSync(bare, 0o600);
    const keyAlone = piped({ privateKey: bare, publicKey: certified.publicKey }, 'sim-01+view');
    expect(await keyAlone.exited).toBe(255);
    expect(keyAlone.stderr()).toContain('Permission denied (publickey)');

    await until(() => Date.now() > Date.parse(issued.validBefore) + 1000, (CERTIFICATE_TTL_SECONDS + 10) * 1000, 'the certificate to expire');
    const expired = piped(certified, 'sim-01+view');
    expect(await expired.exited).toBe(255);
    expect(expired.stderr()).toContain('Permission denied (publickey)');
    // The refusal is audited with its reason.
    await eventually('the expired certificate in the audit log', 15_000, async () => (JSON.stringify((await api(stack.adminToken, 'GET', '/v1/audit?limit=500')).body).includes('the SSH certificate has expired') ? true : undefined));
  }, 120_000);

  it('a server whose agent is offline is refused with a clear message and status 5', async () => {
    const agentPid = stack.agentPid()!;
    process.kill(agentPid, 'SIGSTOP');
    try {
      await eventually('the relay to see the agent offline', 20_000, async () => ((await api(stack.operatorToken, 'GET', '/v1/servers/sim-01')).body['agent'] === 'offline' ? true : undefined));
      const run = piped(keys.operator, 'sim-01');
      run.child.stdin!.end();
      expect(await run.exited).toBe(5);
      expect(run.stderr()).toContain('AGENT_OFFLINE: the agent of sim-01 is offline');
    } finally {
      process.kill(agentPid, 'SIGCONT');
    }
    await eventually('the agent back online', 30_000, async () => ((await api(stack.operatorToken, 'GET', '/v1/servers/sim-01')).body['agent'] === 'online' ? true : undefined));
  }, 90_000);

  it('the session is recorded like any console, and every connection is audited with the key fingerprint', async () => {
    const { recordings } = (await api(stack.operatorToken, 'GET', '/v1/recordings')).body as { recordings: Array<{ id: string; serverId: string }> };
    const simRecordings = recordings.filter((recording) => recording.serverId === 'sim-01');
    expect(simRecordings.length).toBeGreaterThan(0);
    let found = false;
    for (const recording of simRecordings) {
      const response = await fetch(`${stack.relayUrl}/v1/recordings/${recording.id}`, { headers: { authorization: `Bearer ${stack.operatorToken}` } });
      if ((await response.text()).includes('ssh-front-door-works')) found = true;
    }
    expect(found).toBe(true);

    const audit = (await api(stack.adminToken, 'GET', '/v1/audit?limit=500')).body as { records: Array<{ action: string; outcome: string; details: Record<string, unknown> | null; target: string | null }> };
    const operatorFingerprint = sshFingerprint(directory, keys.operator.publicKey);
    expect(audit.records.some((record) => record.action === 'ssh.connect' && record.outcome === 'success' && record.details?.['fingerprint'] === operatorFingerprint)).toBe(true);
    expect(audit.records.some((record) => record.action === 'session.open' && record.target === 'server:sim-01' && record.details?.['via'] === 'ssh' && record.details['fingerprint'] === operatorFingerprint)).toBe(true);
    const strangerFingerprint = sshFingerprint(directory, keys.unregistered.publicKey);
    expect(audit.records.some((record) => record.action === 'ssh.connect' && record.outcome === 'denied' && (record.details?.['fingerprints'] as string[] | undefined)?.includes(strangerFingerprint))).toBe(true);
    expect(audit.records.some((record) => record.action === 'session.open' && record.outcome === 'denied' && record.target === 'server:bravo-01' && record.details?.['via'] === 'ssh')).toBe(true);
  }, 60_000);
});
