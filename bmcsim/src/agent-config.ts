import { stringify } from 'yaml';
import type { BmcEndpoints } from './bmc/bmc.js';
import type { BmcUser } from './bmc/config.js';
import type { TlsMaterial } from './web/tls.js';

/**
 * The agent configuration (agent/src/config/schema.ts, AgentConfigFile) for a
 * fleet: one server per BMC with its IPMI, Redfish, VNC and serial endpoints.
 * Passwords never appear in it: credentials name environment variables.
 */
export interface AgentConfigOptions {
  relay?: string;
  name?: string;
  stateDir?: string;
  tenant?: string;
  racks?: number;
}

export const ADMIN_PASSWORD_ENV = 'BMCSIM_ADMIN_PASSWORD';
export const VNC_PASSWORD_ENV = 'BMCSIM_VNC_PASSWORD';

export function agentConfigFor(bmcs: ReadonlyArray<BmcEndpoints & { id: string }>, admin: BmcUser, tls: TlsMaterial | undefined, vncPassword: string | undefined, options: AgentConfigOptions) {
  const racks = Math.max(1, options.racks ?? Math.ceil(bmcs.length / 40));
  const credentials = [{ id: 'bmcsim-admin', username: admin.name, passwordEnv: ADMIN_PASSWORD_ENV }];
  if (vncPassword !== undefined) credentials.push({ id: 'bmcsim-vnc', username: 'vnc', passwordEnv: VNC_PASSWORD_ENV });
  const config = {
    relay: options.relay ?? 'https://127.0.0.1:8443',
    name: options.name ?? 'bmcsim-fleet',
    stateDir: options.stateDir ?? './bmcsim-agent-state',
    credentials,
    servers: bmcs.map((bmc, index) => ({
      id: bmc.id,
      name: bmc.id,
      tenant: options.tenant ?? 'demo',
      rack: `rack-${String((index % racks) + 1).padStart(2, '0')}`,
      labels: { simulated: 'true' },
      ipmi: { host: bmc.address, port: bmc.ipmiPort, credentials: 'bmcsim-admin', cipherSuite: 'auto' as const, privilege: 'administrator' as const },
      redfish: { url: bmc.redfishUrl, credentials: 'bmcsim-admin', ...(tls ? { tls: { fingerprint256: tls.fingerprint256 } } : {}) },
      vnc: { url: bmc.vncUrl, ...(vncPassword !== undefined ? { credentials: 'bmcsim-vnc' } : {}) },
      serial: { url: bmc.serialWsUrl, credentials: 'bmcsim-admin' },
    })),
  };
  const environment: Record<string, string> = { [ADMIN_PASSWORD_ENV]: admin.password };
  if (vncPassword !== undefined) environment[VNC_PASSWORD_ENV] = vncPassword;
  return { config, environment };
}

export function stringifyAgentConfig(config: unknown): string {
  return `# Written by bmcsim. Passwords are read from the environment (see the variables named below).\n${stringify(config)}`;
}
