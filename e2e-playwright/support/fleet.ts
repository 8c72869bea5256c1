import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminAccessToken } from './admin-token.js';
import { type Started, startProcess, waitFor } from './processes.js';

export interface Fleet {
  processes: Started[];
  /** The agent, as started now (a restart replaces it). */
  agent(): Started;
  /** Kills the agent with SIGKILL and starts it again with its enrolled identity; resolves once every server is online again. */
  killAndRestartAgent(): Promise<void>;
  servers: { id: string; name: string; sol: boolean; serial: boolean; vnc: boolean; media: boolean; ipmi: BmcLogin }[];
}

/** Where a test reaches a simulated BMC itself (ipmitool), as the agent does. */
export interface BmcLogin {
  host: string;
  port: number;
  username: string;
  password: string;
}

// Eight: the 16-console test opens a SOL and a VNC console on each.
const FLEET_SIZE = 8;
const REGION = 'e2e';
/** The BMC only discovery finds (tests/discovery.spec.ts): its address, the agent's range, and its ports. */
export const DISCOVERY_ADDRESS = '127.73.0.1';
const DISCOVERY_RANGE = '127.73.0.0/30';
const DISCOVERY_PORTS = { ipmi: 20623, web: 28443, vnc: 25900 };
const DATACENTER = 'lab1';

interface ServerViewLike {
  id: string;
  name: string;
  agent: string;
  capabilities: string[];
}

/**
 * Simulated BMCs (bmcsim, its own bin) and one agent enrolled with a join
 * token that an admin creates through the API, as an operator would.
 */
export async function startFleet(options: { repo: string; relayUrl: string; dataDir: string; logs: string; password: string }): Promise<Fleet> {
  // LIGHTSOUT_E2E_BMCSIM_BIN: run another bmcsim build with the same flags (debugging the harness).
  const bmcsimBin = process.env.LIGHTSOUT_E2E_BMCSIM_BIN ?? join(options.repo, 'bmcsim/bin/bmcsim.js');
  // No fleet is a failed suite, never a skipped one: every fleet test would otherwise pass having tested nothing.
  if (!existsSync(bmcsimBin)) throw new Error(`the simulated fleet cannot start: ${bmcsimBin} does not exist`);
  const processes: Started[] = [];
  try {
    const agentConfigPath = join(options.dataDir, 'agent.yaml');
    // HTTPS with bmcsim's self-signed certificate, as a factory BMC ships: the agent config pins its
    // fingerprint (redfish.tls), which the Redfish driver and the console WebSockets (wss://) both check.
    const bmcsim = startProcess('bmcsim', process.execPath, [bmcsimBin, '--count', String(FLEET_SIZE), '--address', '127.0.0.1', '--relay', options.relayUrl, '--agent-config', agentConfigPath], {
      cwd: options.repo,
      logFile: join(options.logs, 'bmcsim.log'),
      env: { ...process.env },
    });
    processes.push(bmcsim);
    await waitFor('bmcsim to start its BMCs', async () => (/bmcsim: \d+ BMCs up/.test(bmcsim.output()) ? true : undefined), { timeoutMs: 60_000, process: bmcsim });
    // One more BMC that no config names, on an address of its own inside the agent's discovery range: the
    // discovery test finds it with a scan and adopts it (bmcsim's BMCs share one admin password, so the
    // fleet's credential set logs into it too).
    const undiscovered = startProcess('bmcsim-undiscovered', process.execPath, [bmcsimBin, '--count', '1', '--base-address', DISCOVERY_ADDRESS, '--ports', `ipmi=${DISCOVERY_PORTS.ipmi},web=${DISCOVERY_PORTS.web},vnc=${DISCOVERY_PORTS.vnc}`, '--agent-config', join(options.dataDir, 'undiscovered-agent.yaml')], {
      cwd: options.repo,
      logFile: join(options.logs, 'bmcsim-undiscovered.log'),
      env: { ...process.env },
    });
    processes.push(undiscovered);
    await waitFor('bmcsim to start the BMC to discover', async () => (/bmcsim: \d+ BMCs up/.test(undiscovered.output()) ? true : undefined), { timeoutMs: 60_000, process: undiscovered });

    const admin = await adminAccessToken(options.relayUrl, options.password);
    const created = await fetch(`${options.relayUrl}/v1/agents/join-tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ region: REGION, datacenter: DATACENTER, tenants: ['demo'] }),
    });
    if (created.status !== 201) throw new Error(`join token: HTTP ${created.status} ${await created.text()}`);
    const { token } = (await created.json()) as { token: string };
    const joinTokenFile = join(options.dataDir, 'join-token');
    writeFileSync(joinTokenFile, token, { mode: 0o600 });
    const config = readFileSync(agentConfigPath, 'utf8')
      .replace(/^relay:.*$/m, `relay: ${options.relayUrl}`)
      .replace(/^stateDir:.*$/m, `stateDir: ${join(options.dataDir, 'agent-state')}`)
      .replace(/^name:.*$/m, 'name: e2e-agent');
    // Discovery on demand only (a scan at the test's request): the one range holds the BMC above and nothing else.
    const discovery = `discovery:\n  ranges: [${DISCOVERY_RANGE}]\n  intervalSeconds: 0\n  ipmiPort: ${DISCOVERY_PORTS.ipmi}\n  redfishPort: ${DISCOVERY_PORTS.web}\n  timeoutMs: 5000\n`;
    writeFileSync(agentConfigPath, `${config}\njoinTokenFile: ${joinTokenFile}\n${discovery}`);

    let restarts = 0;
    const startAgent = () =>
      startProcess('agent', process.execPath, [join(options.repo, 'agent/bin/lightsout-agent.js'), '--config', agentConfigPath], {
        cwd: options.repo,
        logFile: join(options.logs, restarts === 0 ? 'agent.log' : `agent-${restarts}.log`),
        env: { ...process.env, ...environmentFrom(bmcsim.output()) },
      });
    // The relay restarts keep the admin's signing key and sessions, but a token outlives no kill of a test: ask again when refused.
    let adminToken = admin;
    const allOnline = (agent: Started) =>
      waitFor(
        `${FLEET_SIZE} servers online`,
        async () => {
          let response = await fetch(`${options.relayUrl}/v1/servers`, { headers: { authorization: `Bearer ${adminToken}` } });
          if (response.status === 401) {
            adminToken = await adminAccessToken(options.relayUrl, options.password);
            response = await fetch(`${options.relayUrl}/v1/servers`, { headers: { authorization: `Bearer ${adminToken}` } });
          }
          if (!response.ok) return undefined;
          const list = ((await response.json()) as { servers: ServerViewLike[] }).servers;
          return list.length >= FLEET_SIZE && list.every((server) => server.agent === 'online') ? list : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250, process: agent },
      );
    let agent = startAgent();
    processes.push(agent);
    const servers = await allOnline(agent);
    const ipmi = ipmiLogins(readFileSync(agentConfigPath, 'utf8'), environmentFrom(bmcsim.output()));
    return {
      processes,
      agent: () => agent,
      async killAndRestartAgent() {
        agent.child.kill('SIGKILL');
        await agent.exited;
        processes.splice(processes.indexOf(agent), 1);
        restarts += 1;
        agent = startAgent();
        processes.push(agent);
        await allOnline(agent);
      },
      servers: servers.map((server) => ({
        id: server.id,
        name: server.name,
        sol: server.capabilities.includes('sol'),
        serial: server.capabilities.includes('serial'),
        vnc: server.capabilities.includes('vnc'),
        media: server.capabilities.includes('media'),
        ipmi: ipmi.get(server.id) ?? missing(`the IPMI endpoint of ${server.id} in the agent config`),
      })),
    };
  } catch (error) {
    for (const started of processes.reverse()) await started.stop();
    throw error;
  }
}

/** bmcsim prints the environment the agent needs for its credential references: "run the agent with BMCSIM_X=… BMCSIM_Y=…". */
function environmentFrom(output: string): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const match of output.matchAll(/\b(BMCSIM_[A-Z_]+)=(\S+)/g)) environment[match[1]!] = match[2]!;
  return environment;
}

/**
 * Each server's IPMI endpoint and login from the agent config bmcsim wrote
 * (`- id:` … `ipmi: host, port`; one credential set, its password in the
 * environment bmcsim printed).
 */
function ipmiLogins(config: string, environment: Record<string, string>): Map<string, BmcLogin> {
  const username = /^\s+username: (\S+)$/m.exec(config)?.[1] ?? missing('the BMC username in the agent config');
  const password = environment['BMCSIM_ADMIN_PASSWORD'] ?? missing('BMCSIM_ADMIN_PASSWORD in bmcsim\'s output');
  const logins = new Map<string, BmcLogin>();
  const servers = config.slice(config.indexOf('\nservers:\n'));
  for (const match of servers.matchAll(/- id: (\S+)[\s\S]*?\n\s+ipmi:\n\s+host: (\S+)\n\s+port: (\d+)/g)) {
    logins.set(match[1]!, { host: match[2]!, port: Number(match[3]), username, password });
  }
  return logins;
}

function missing(what: string): never {
  throw new Error(`the simulated fleet cannot be used: no ${what}`);
}
