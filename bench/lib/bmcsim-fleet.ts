/**
 * A bmcsim fleet as its own process (each BMC on its own 127.x address, like
 * separate machines), and the agent server entries for its BMCs over IPMI.
 * For the bulk tests and the bulk-power benchmark.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { BMCSIM_UP, spawnBmcsim, stopProcess, untilOutput } from './bmcsim-process.js';
import type { StackServer } from './stack.js';

export const BMCSIM_USER = 'admin';
export const BMCSIM_PASSWORD = 'adminpass';

export interface BmcsimFleet {
  /** One agent server entry per BMC: IPMI only (power, sensors), labelled as given. */
  servers: StackServer[];
  /** `host:port` of each BMC's IPMI endpoint, in server order. */
  ipmiTargets: string[];
  stop(): Promise<void>;
}

export async function startBmcsimFleet(options: { count: number; baseAddress: string; labels?: (index: number) => Record<string, string> }): Promise<BmcsimFleet> {
  const directory = mkdtempSync(join(tmpdir(), 'lightsout-bmcsim-fleet-'));
  const agentConfig = join(directory, 'agent.yaml');
  const child = spawnBmcsim(['--count', String(options.count), '--base-address', options.baseAddress, '--http', '--quiet', '--agent-config', agentConfig]);
  await untilOutput(child, BMCSIM_UP, 300_000);
  const written = parse(readFileSync(agentConfig, 'utf8')) as { servers: Array<{ id: string; rack: string; ipmi: { host: string; port: number } & Record<string, unknown> }> };
  const servers: StackServer[] = written.servers.map((server, index) => ({ id: server.id, rack: server.rack, labels: options.labels?.(index) ?? {}, ipmi: server.ipmi }));
  return {
    servers,
    ipmiTargets: written.servers.map((server) => `${server.ipmi.host}:${server.ipmi.port}`),
    async stop() {
      await stopProcess(child);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
