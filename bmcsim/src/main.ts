import { writeFile, readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { stringifyAgentConfig } from './agent-config.js';
import { DEFAULT_FAULTS, type BmcFaults } from './bmc/config.js';
import { startFleet, type FleetOptions } from './fleet.js';

/**
 * `bmcsim`: start a simulated fleet, write the agent config, print what to
 * connect to, and run until SIGINT/SIGTERM.
 */
const USAGE = `usage: bmcsim [--count N] [--config fleet.yaml] [options]

  --count N               number of BMCs (default 3)
  --config FILE           fleet YAML (count, baseAddress, address, ports, tls, faults, bmcs[].faults …)
  --base-address A        first per-BMC loopback address (default 127.1.0.1)
  --address A             put every BMC on this one address, ports counting up from --ports
  --ports ipmi=P,web=P,vnc=P  base ports (0 = ephemeral)
  --http                  plain HTTP instead of HTTPS for Redfish and the WebSockets
  --vnc-password PW       require VNC authentication on the RFB ports
  --fault KEY=VALUE       a fault for every BMC (repeatable), e.g. noSuite17=true
  --agent-config FILE     where to write the agent YAML (default bmcsim-agent.yaml)
  --relay URL             relay URL written into the agent config
  --powered-off           start the hosts powered off
  --quiet                 print only the summary line
`;

interface FleetFile extends Omit<FleetOptions, 'faultsFor'> {
  bmcs?: Array<{ index: number; faults?: Partial<BmcFaults> }>;
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      count: { type: 'string' },
      config: { type: 'string' },
      'base-address': { type: 'string' },
      address: { type: 'string' },
      ports: { type: 'string' },
      http: { type: 'boolean' },
      'vnc-password': { type: 'string' },
      fault: { type: 'string', multiple: true },
      'agent-config': { type: 'string' },
      relay: { type: 'string' },
      'powered-off': { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const file: FleetFile = values.config ? ((parse(await readFile(values.config, 'utf8')) as FleetFile | null) ?? { count: 1 }) : { count: 3 };
  const options: FleetOptions = { ...file, count: values.count ? Number(values.count) : file.count };
  if (values['base-address']) options.baseAddress = values['base-address'];
  if (values.address) options.address = values.address;
  if (values.ports) options.ports = parsePorts(values.ports);
  if (values.http) options.tls = false;
  if (values['vnc-password']) options.vncPassword = values['vnc-password'];
  if (values['powered-off']) options.startPowered = false;
  if (values.fault) options.faults = { ...options.faults, ...parseFaults(values.fault) };
  options.agent = { ...options.agent, ...(values.relay ? { relay: values.relay } : {}) };
  const perBmc = new Map((file.bmcs ?? []).map((entry) => [entry.index, entry.faults ?? {}]));
  options.faultsFor = (index) => perBmc.get(index);

  const started = performance.now();
  const fleet = await startFleet(options);
  const agentConfigPath = values['agent-config'] ?? 'bmcsim-agent.yaml';
  await writeFile(agentConfigPath, stringifyAgentConfig(fleet.agentConfig));
  if (!values.quiet) {
    for (const bmc of fleet.bmcs.slice(0, 20)) {
      process.stdout.write(`${bmc.id}  ipmi ${bmc.ipmi.host}:${bmc.ipmi.port}  redfish ${bmc.redfishUrl}  vnc ${bmc.vncUrl}  kvm ${bmc.kvmWsUrl}  serial ${bmc.serialWsUrl}\n`);
    }
    if (fleet.bmcs.length > 20) process.stdout.write(`… and ${fleet.bmcs.length - 20} more (all in ${agentConfigPath})\n`);
    process.stdout.write(`\nDemo credentials (every BMC): ${fleet.users.map((user) => `${user.name}/${user.password} (${user.privilege})`).join(', ')}\n`);
    if (options.vncPassword) process.stdout.write(`VNC password: ${options.vncPassword}\n`);
    if (fleet.tls) process.stdout.write(`TLS certificate SHA-256: ${fleet.tls.fingerprint256}\n`);
    process.stdout.write(`Agent config: ${agentConfigPath}; run the agent with ${Object.entries(fleet.agentEnvironment).map(([name, value]) => `${name}=${value}`).join(' ')}\n`);
  }
  process.stdout.write(`bmcsim: ${fleet.bmcs.length} BMCs up in ${Math.round(performance.now() - started)} ms (pid ${process.pid}); Ctrl-C stops\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await fleet.stop();
  return 0;
}

function parsePorts(text: string): FleetOptions['ports'] {
  const ports: Record<string, number> = {};
  for (const pair of text.split(',')) {
    const [name, value] = pair.split('=');
    if (!name || !['ipmi', 'web', 'vnc'].includes(name) || !/^\d+$/.test(value ?? '')) throw new Error(`--ports: bad entry "${pair}"`);
    ports[name] = Number(value);
  }
  return ports;
}

function parseFaults(pairs: string[]): Partial<BmcFaults> {
  const faults: Record<string, unknown> = {};
  for (const pair of pairs) {
    const [key = '', raw = ''] = pair.split('=');
    if (!(key in DEFAULT_FAULTS)) throw new Error(`--fault: unknown knob "${key}" (known: ${Object.keys(DEFAULT_FAULTS).join(', ')})`);
    faults[key] = raw === 'true' ? true : raw === 'false' ? false : /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  }
  return faults as Partial<BmcFaults>;
}
