/**
 * bmcsim as a process of its own (a real BMC is another machine): one
 * simulated BMC with IPMI and Redfish on free loopback ports, and the agent
 * config entries that reach it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { BMCSIM_UP, spawnBmcsim, stopProcess, untilOutput } from './bmcsim-process.js';

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
  const child = spawnBmcsim(['--count', '1', '--address', '127.0.0.1', '--ports', 'ipmi=0,web=0,vnc=0', '--http', '--quiet', '--agent-config', agentConfig]);
  await untilOutput(child, BMCSIM_UP, 120_000);
  const server = (parse(readFileSync(agentConfig, 'utf8')) as { servers: Array<{ ipmi: Record<string, unknown>; redfish: Record<string, unknown> }> }).servers[0]!;
  return {
    endpoints: { ipmi: server.ipmi, redfish: server.redfish },
    stop: () => stopProcess(child),
  };
}
