import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from '@lightsout/lab';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { buildApp } from '../app.js';
import { resolveConfig } from '../config/load.js';
import type { RelayConfig } from '../config/schema.js';

/** The password both seeded users get in tests. */
export const TEST_PASSWORD = 'lightsout-test-password';

export interface RunningRelay {
  /** http://127.0.0.1:PORT, also the publicUrl. */
  url: string;
  port: number;
  dataDir: string;
  config: RelayConfig;
  app: FastifyInstance;
  credentials: { admin: { username: 'admin'; password: string }; operator: { username: 'operator'; password: string } };
  /** Stop listening and close the store; removes dataDir if startRelay created it. */
  close(): Promise<void>;
}

export interface StartRelayOptions {
  /** Reuse a data dir (restart tests); default a fresh temporary directory, removed on close. */
  dataDir?: string;
  /** Listen on this port (restart tests keep the URL); default a free loopback port. */
  port?: number;
  /** Extra config (same shape as the YAML file), e.g. { agents: { heartbeatIntervalMs: 200 } }. */
  config?: Record<string, unknown>;
  /** Seeded users' password; default TEST_PASSWORD. */
  demoPassword?: string;
  /** Receives the "demo accounts created" text on first start (what the relay prints to stdout). */
  onSeededCredentials?: (text: string) => void;
  /** Log lines go here; default discarded. */
  logDestination?: DestinationStream;
}

/**
 * Test-only: a real relay on a loopback port with the embedded OP and seeded
 * users. Every call owns what it starts; close() stops exactly that.
 */
export async function startRelay(options: StartRelayOptions = {}): Promise<RunningRelay> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'lightsout-relay-'));
  const port = options.port ?? (await freeTcpPort());
  const password = options.demoPassword ?? TEST_PASSWORD;
  const config = resolveConfig({
    logLevel: 'warn',
    webRoot: join(dataDir, 'no-web-console'),
    ...options.config,
    dataDir,
    listen: { host: '127.0.0.1', port },
  });
  let running: FastifyInstance;
  try {
    running = await buildApp({ config, demoPassword: password, logDestination: options.logDestination ?? { write: () => true }, ...(options.onSeededCredentials === undefined ? {} : { printSeededCredentials: options.onSeededCredentials }) });
  } catch (error) {
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  try {
    await running.listen({ host: '127.0.0.1', port });
  } catch (error) {
    await running.close();
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: config.publicUrl,
    port,
    dataDir,
    config,
    app: running,
    credentials: { admin: { username: 'admin', password }, operator: { username: 'operator', password } },
    async close() {
      await running.close();
      if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A fresh at-rest key file path for the replicas of one test deployment
 * (`identity.totpKeyFile`): relays sharing a store must share it, as real
 * replicas share one secret mount. Removed when the process exits.
 */
export function sharedAtRestKeyFile(): string {
  const directory = mkdtempSync(join(tmpdir(), 'lightsout-at-rest-'));
  process.once('exit', () => rmSync(directory, { recursive: true, force: true }));
  return join(directory, 'at-rest.key');
}
