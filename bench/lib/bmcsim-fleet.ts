/**
 * A bmcsim fleet as its own process (each BMC on its own 127.x address, like
 * separate machines), and the agent server entries for its BMCs over IPMI.
 * For the bulk tests and the bulk-power benchmark.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { StackServer } from './stack.js';

const bmcsimBin = fileURLToPath(new URL('../../bmcsim/bin/bmcsim.js', import.meta.url));
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
  const child: ChildProcess = spawn(process.execPath, [bmcsimBin, '--count', String(options.count), '--base-address', options.baseAddress, '--http', '--quiet', '--agent-config', agentConfig], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bmcsim did not start: ${output.slice(-1000)}`)), 300_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (/BMCs up in \d+ ms/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bmcsim exited ${code}: ${output.slice(-1000)}`));
    });
  });
  const written = parse(readFileSync(agentConfig, 'utf8')) as { servers: Array<{ id: string; rack: string; ipmi: { host: string; port: number } & Record<string, unknown> }> };
  const servers: StackServer[] = written.servers.map((server, index) => ({ id: server.id, rack: server.rack, labels: options.labels?.(index) ?? {}, ipmi: server.ipmi }));
  return {
    servers,
    ipmiTargets: written.servers.map((server) => `${server.ipmi.host}:${server.ipmi.port}`),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
