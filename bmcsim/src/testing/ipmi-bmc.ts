import { afterEach } from 'vitest';
import { Bmc } from '../bmc/bmc.js';
import { bmcConfig, type BmcFaults } from '../bmc/config.js';
import type { Host, HostPowerState } from '../host/host.js';
import { IpmiLanServer } from '../ipmi/lan-server.js';
import { freeLowUdpPort } from './ports.js';
import type { PtyClient } from './pty.js';
import { waitFor } from '@lightsout/lab/wait';

/** One simulated BMC with IPMI on a free low UDP port, for third-party IPMI clients. */
export async function startIpmiBmc(faults: Partial<BmcFaults> = {}, startPowered = true, sessionTimeoutSeconds = 60): Promise<{ bmc: Bmc; port: number }> {
  const bmc = new Bmc(bmcConfig('sim-01', { faults, startPowered, sessionTimeoutSeconds, timings: { postMs: 20, bootMs: 20, shutdownMs: 100, cycleMs: 50 } }));
  // Bounded retry: another test may grab the probed port between probe and bind.
  for (let attempt = 0; ; attempt++) {
    try {
      const port = await freeLowUdpPort();
      const endpoints = await bmc.start({ address: '127.0.0.1', ipmiPort: port, webPort: 0, vncPort: 0, tls: undefined }, (owner) => new IpmiLanServer(owner));
      if (startPowered) await waitForState(bmc.host, 'running');
      return { bmc, port: endpoints.ipmiPort };
    } catch (error) {
      if (attempt >= 5) throw error;
    }
  }
}

/**
 * Per-test ownership for a test file: `bmcWithPort` starts a BMC like
 * startIpmiBmc, and after each test every BMC it started is stopped and every
 * client pushed to `clients` is killed (clients first: they talk to the BMCs).
 * Call once at the top of a test file.
 */
export function ipmiBmcFixtures(): { bmcWithPort: typeof startIpmiBmc; clients: PtyClient[] } {
  const started: Bmc[] = [];
  const clients: PtyClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.kill();
    for (const bmc of started.splice(0)) await bmc.stop();
  });
  const bmcWithPort: typeof startIpmiBmc = async (...args) => {
    const result = await startIpmiBmc(...args);
    started.push(result.bmc);
    return result;
  };
  return { bmcWithPort, clients };
}

export function waitForState(host: Host, state: HostPowerState, timeoutMs = 5000): Promise<void> {
  return waitFor(`host ${state}`, () => host.powerState === state, { timeoutMs, wake: (wake) => (host.on('power', wake), () => host.off('power', wake)) }).then(() => undefined);
}
