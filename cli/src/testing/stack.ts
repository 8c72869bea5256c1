import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { approveDeviceCode } from '@lightsout/relay/testing';
import { eventually, runToCompletion, TrackedProcess, REPO_ROOT } from './processes.js';

/** The real relay as a child process: a restart is a new process on the same port and data dir. */
export async function startRelayProcess(options: { port: number; dataDir: string; heartbeatIntervalMs: number; password: string; configDir: string }): Promise<TrackedProcess> {
  const configFile = join(options.configDir, 'relay.yaml');
  writeFileSync(
    configFile,
    // JSON is YAML 1.2: no YAML library needed to write a config file.
    JSON.stringify({
      listen: { host: '127.0.0.1', port: options.port },
      dataDir: options.dataDir,
      webRoot: join(options.dataDir, 'no-web-console'),
      logLevel: 'warn',
      agents: { heartbeatIntervalMs: options.heartbeatIntervalMs, missedHeartbeats: 3 },
    }),
  );
  const relay = new TrackedProcess('relay', process.execPath, [join(REPO_ROOT, 'relay/bin/lightsout-relay.js'), '--config', configFile], {
    ...process.env,
    LIGHTSOUT_DEMO_PASSWORD: options.password,
  });
  await eventually('the relay to be ready', 60_000, async () => {
    if (!relay.running) throw new Error(`relay exited: ${relay.stderr}`);
    const response = await fetch(`http://127.0.0.1:${options.port}/readyz`);
    await response.body?.cancel();
    return response.ok ? true : undefined;
  }).catch(async (error: unknown) => {
    await relay.kill('SIGKILL');
    throw error;
  });
  return relay;
}

export function startAgentProcess(configFile: string, env: NodeJS.ProcessEnv = {}): TrackedProcess {
  return new TrackedProcess('agent', process.execPath, [join(REPO_ROOT, 'agent/bin/lightsout-agent.js'), '--config', configFile], { ...process.env, ...env });
}

/** The real CLI, as a user runs it. */
export function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runToCompletion(process.execPath, [join(REPO_ROOT, 'cli/bin/lightsout.js'), ...args], { ...process.env, LIGHTSOUT_TOKEN: '', LIGHTSOUT_RELAY: '', ...env });
}

/** `lightsout login` as a child process, approved in the "browser" as `username`. */
export async function loginThroughDeviceFlow(relayUrl: string, cliEnv: NodeJS.ProcessEnv, username: string, password: string): Promise<TrackedProcess> {
  const login = new TrackedProcess('lightsout login', process.execPath, [join(REPO_ROOT, 'cli/bin/lightsout.js'), 'login', '--relay', relayUrl], { ...process.env, ...cliEnv });
  try {
    const [, verificationUrl] = (await login.waitForOutput(/open\s+(https?:\/\/\S+)/, 20_000)) as [string, string];
    await approveDeviceCode(verificationUrl, username, password);
    await login.exited;
  } finally {
    await login.kill('SIGKILL');
  }
  return login;
}
