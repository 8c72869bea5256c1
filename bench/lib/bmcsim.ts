/**
 * bmcsim as a process of its own (a real BMC is another machine): one
 * simulated BMC with IPMI and Redfish on free loopback ports, and the agent
 * config entries that reach it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const bmcsimBin = fileURLToPath(new URL('../../bmcsim/bin/bmcsim.js', import.meta.url));
/** The admin password bmcsim's BMCs accept; the agent reads it from this environment variable. */
export const BMCSIM_PASSWORD_ENV = 'BMCSIM_ADMIN_PASSWORD';
export const BMCSIM_CREDENTIALS = { env: { [BMCSIM_PASSWORD_ENV]: 'adminpass' }, entries: [{ id: 'bmcsim-admin', username: 'admin', passwordEnv: BMCSIM_PASSWORD_ENV }] };

export interface Bmcsim {
  /** The agent config `ipmi` and `redfish` entries of the simulated BMC. */
  endpoints: { ipmi: Record<string, unknown>; redfish: Record<string, unknown> };
  stop(): Promise<void>;
}

export async function startBmcsim(directory: string, name: string): Promise<Bmcsim> {
  const agentConfig = join(directory, `bmcsim-${name}.yaml`);
  const child: ChildProcess = spawn(process.execPath, [bmcsimBin, '--count', '1', '--address', '127.0.0.1', '--ports', 'ipmi=0,web=0,vnc=0', '--http', '--quiet', '--agent-config', agentConfig], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (/BMCs up in \d+ ms/.test(output)) resolve();
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('exit', (code) => reject(new Error(`bmcsim exited ${code}: ${output.slice(-1000)}`)));
  });
  const server = (parse(readFileSync(agentConfig, 'utf8')) as { servers: Array<{ ipmi: Record<string, unknown>; redfish: Record<string, unknown> }> }).servers[0]!;
  return {
    endpoints: { ipmi: server.ipmi, redfish: server.redfish },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
