import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FullConfig } from '@playwright/test';
import { type Fleet, startFleet } from './fleet.js';
import { freePort, type Started, startProcess, waitFor } from './processes.js';

const repo = resolve(import.meta.dirname, '../..');
const desktop = join(repo, 'desktop');
export const DEMO_PASSWORD = 'e2e-demo-password-1';

function newestMtime(path: string): number {
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** The relay serves desktop/out/web: build it when missing or older than its sources. */
function ensureWebConsole(): void {
  const built = join(desktop, 'out/web/index.html');
  const sources = Math.max(newestMtime(join(desktop, 'src/renderer')), newestMtime(join(desktop, 'src/common')), newestMtime(join(desktop, 'vite.web.config.ts')), newestMtime(join(desktop, 'vite')), newestMtime(join(repo, 'shared/src')));
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  console.log('[e2e] building the web console (desktop/out/web is missing or stale)');
  const result = spawnSync('npm', ['run', 'build:web', '-w', '@lightsout/desktop'], { cwd: repo, stdio: 'inherit', env: process.env });
  if (result.status !== 0) throw new Error('npm run build:web failed');
}

/**
 * Starts the real stack once for the whole run: relay (embedded OP, seeded
 * demo users with a known password), then the simulated BMC fleet and an
 * agent enrolled with a join token. Tests read where things are from the
 * environment; the returned function stops exactly what was started.
 */
export default async function globalSetup(_config: FullConfig): Promise<() => Promise<void>> {
  ensureWebConsole();
  const logs = join(import.meta.dirname, '../test-results/logs');
  mkdirSync(logs, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'lightsout-e2e-'));
  const started: Started[] = [];
  const teardown = async () => {
    if (control) await new Promise((resolveClose) => control!.close(resolveClose));
    // The fleet's own list: an agent restart replaced its entry there. A frozen agent acts on SIGTERM only once thawed.
    for (const process of [...(fleet?.processes ?? [])].reverse()) {
      process.child.kill('SIGCONT');
      await process.stop();
    }
    for (const process of started.reverse()) await process.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };

  // The tenant recording policy (relay/src/plugins/streams/recordings/recorder.ts): VNC too, so the recordings view can replay it.
  mkdirSync(join(dataDir, 'relay'), { recursive: true });
  writeFileSync(join(dataDir, 'relay', 'recording-policy.json'), JSON.stringify({ '*': { sol: true, serial: true, vnc: true } }));

  let control: Server | null = null;
  let fleet: Fleet | null = null;
  try {
    const port = await freePort();
    const relayUrl = `http://127.0.0.1:${port}`;
    // The SSH front door, so the console's SSH keys screen shows a port and a known_hosts line.
    const sshPort = await freePort();
    let restarts = 0;
    // Settings a test asked the relay to restart with (e.g. a short step-up window); cleared by a plain restart.
    let relayEnv: Record<string, string> = {};
    const startRelay = async () => {
      const relay = startProcess('relay', process.execPath, [join(repo, 'relay/bin/lightsout-relay.js')], {
        cwd: repo,
        logFile: join(logs, restarts === 0 ? 'relay.log' : `relay-${restarts}.log`),
        env: {
          ...process.env,
          LIGHTSOUT_DEMO_PASSWORD: DEMO_PASSWORD,
          LIGHTSOUT_RELAY__LISTEN__PORT: String(port),
          LIGHTSOUT_RELAY__SSH__PORT: String(sshPort),
          LIGHTSOUT_RELAY__DATA_DIR: join(dataDir, 'relay'),
          // The region this relay names as the gateway of its agents (the server page's Gateway row): the fleet's agent is enrolled in region e2e.
          LIGHTSOUT_RELAY__REGION: 'e2e',
          LIGHTSOUT_RELAY__WEB_ROOT: join(desktop, 'out/web'),
          LIGHTSOUT_RELAY__AGENTS__HEARTBEAT_INTERVAL_MS: '1000',
          // The fleet overview reads event logs again after 2 s, not a minute: a test's BMC event shows on the next read.
          LIGHTSOUT_RELAY__AGENTS__EVENT_LOG_MAX_AGE_SECONDS: '2',
          ...relayEnv,
        },
      });
      started.push(relay);
      await waitFor('the relay to answer /readyz', async () => ((await fetch(`${relayUrl}/readyz`).catch(() => null))?.ok ? true : undefined), { timeoutMs: 120_000, process: relay });
      return relay;
    };
    let relay = await startRelay();
    process.env.LIGHTSOUT_E2E_RELAY_URL = relayUrl;

    // Stack control for tests that break things on purpose (the test process cannot own these children).
    control = createServer((request, response) => {
      if (request.method === 'POST' && request.url === '/relay/kill-and-restart') {
        void (async () => {
          let body = '';
          for await (const chunk of request) body += String(chunk);
          const asked = (body === '' ? {} : JSON.parse(body)) as { stepUpMaxAgeSeconds?: number };
          relayEnv = asked.stepUpMaxAgeSeconds === undefined ? {} : { LIGHTSOUT_RELAY__IDENTITY__STEP_UP_MAX_AGE_SECONDS: String(asked.stepUpMaxAgeSeconds) };
          relay.child.kill('SIGKILL');
          await relay.exited;
          started.splice(started.indexOf(relay), 1);
          restarts += 1;
          relay = await startRelay();
          response.writeHead(204).end();
        })().catch((error: unknown) => response.writeHead(500).end(String(error)));
        return;
      }
      // A frozen agent (SIGSTOP: its connections stay open, it answers nothing) and its thaw (SIGCONT).
      if (request.method === 'POST' && (request.url === '/agent/freeze' || request.url === '/agent/thaw')) {
        if (!fleet) return void response.writeHead(409).end('no fleet');
        fleet.agent().child.kill(request.url === '/agent/freeze' ? 'SIGSTOP' : 'SIGCONT');
        response.writeHead(204).end();
        return;
      }
      if (request.method === 'POST' && request.url === '/agent/kill-and-restart') {
        if (!fleet) return void response.writeHead(409).end('no fleet');
        fleet.killAndRestartAgent().then(
          () => response.writeHead(204).end(),
          (error: unknown) => response.writeHead(500).end(String(error)),
        );
        return;
      }
      response.writeHead(404).end();
    });
    await new Promise<void>((resolveListen) => control!.listen(0, '127.0.0.1', resolveListen));
    process.env.LIGHTSOUT_E2E_CONTROL_URL = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;
    process.env.LIGHTSOUT_E2E_PASSWORD = DEMO_PASSWORD;

    fleet = await startFleet({ repo, relayUrl, dataDir, logs, password: DEMO_PASSWORD });
    process.env.LIGHTSOUT_E2E_FLEET = 'ready';
    process.env.LIGHTSOUT_E2E_SERVERS = JSON.stringify(fleet.servers);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
