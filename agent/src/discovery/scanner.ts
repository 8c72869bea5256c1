import { randomUUID } from 'node:crypto';
import type { DiscoveredBmc, DiscoveryProtocol } from '@lightsout/shared';
import { scanTargets } from './cidr.js';
import { IpmiScanSocket } from './ipmi-probe.js';
import { PacerClosedError, ProbePacer } from './pacer.js';
import { probeRedfish } from './redfish-probe.js';
import { Slots } from '../slots.js';

export interface ScanSettings {
  /** IPv4 CIDRs; only these are ever probed. */
  ranges: string[];
  protocols: DiscoveryProtocol[];
  ipmiPort: number;
  redfishPort: number;
  /** Datagrams and connection attempts per second, all protocols together. */
  probesPerSecond: number;
  /** Addresses probed at once. */
  concurrency: number;
  /**
   * Redfish requests in flight at once (default: concurrency, at most 64). A TLS handshake costs both
   * ends milliseconds of CPU: hundreds at once on a busy host all outlast their wait and find nothing.
   */
  redfishConcurrency?: number;
  /** How long one probe waits for its answer. */
  timeoutMs: number;
  /** IPMI resends to an address that did not answer (UDP may drop). */
  retries: number;
}

export interface ScanResult {
  scanId: string;
  ranges: string[];
  startedAt: string;
  finishedAt: string;
  /** Addresses probed. */
  addresses: number;
  /** Datagrams sent and connections attempted. */
  probes: number;
  bmcs: DiscoveredBmc[];
}

export interface ScanHooks {
  /** Each probe as it leaves: a datagram or a connection attempt. */
  onProbe?: (protocol: DiscoveryProtocol, address: string) => void;
  /** Ends the scan early (the agent is stopping): what was found so far is returned. */
  signal?: AbortSignal;
  /** The id the report carries (the agent hands it out before the scan ends); a new one by default. */
  scanId?: string;
}

/**
 * One pass over the configured ranges: every address gets the IPMI probes and
 * the Redfish service root request, at most `concurrency` addresses at a time
 * and at most `probesPerSecond` probes in any second (ProbePacer). Findings
 * at one address are one BMC.
 */
export async function scanRanges(settings: ScanSettings, hooks: ScanHooks = {}): Promise<ScanResult> {
  const startedAt = new Date().toISOString();
  const targets = scanTargets(settings.ranges);
  const pacer = new ProbePacer(settings.probesPerSecond);
  const ipmi = settings.protocols.includes('ipmi')
    ? await IpmiScanSocket.open({ port: settings.ipmiPort, pacer, timeoutMs: settings.timeoutMs, retries: settings.retries, onSend: (address) => hooks.onProbe?.('ipmi', address) })
    : undefined;
  const redfish = settings.protocols.includes('redfish');
  const redfishSlots = new Slots(Math.max(1, settings.redfishConcurrency ?? Math.min(settings.concurrency, 64)));
  const found: DiscoveredBmc[] = [];
  let nextTarget = 0;
  const worker = async () => {
    while (nextTarget < targets.length && hooks.signal?.aborted !== true) {
      const address = targets[nextTarget++]!;
      const findings = await Promise.all([
        ipmi?.probe(address),
        redfish ? redfishSlots.run(() => probeRedfish(address, { port: settings.redfishPort, pacer, timeoutMs: settings.timeoutMs, onSend: (to) => hooks.onProbe?.('redfish', to) })) : undefined,
      ]).catch((error: unknown) => {
        if (error instanceof PacerClosedError) return undefined;
        throw error;
      });
      if (findings === undefined) return;
      const [ipmiFinding, redfishFinding] = findings;
      if (ipmiFinding === undefined && redfishFinding === undefined) continue;
      const bmc: DiscoveredBmc = { address, protocols: [] };
      if (ipmiFinding !== undefined) {
        bmc.protocols.push('ipmi');
        bmc.ipmi = ipmiFinding;
      }
      if (redfishFinding !== undefined) {
        bmc.protocols.push('redfish');
        bmc.redfish = redfishFinding;
      }
      found.push(bmc);
    }
  };
  const abort = () => pacer.close();
  hooks.signal?.addEventListener('abort', abort, { once: true });
  try {
    // Workers start in batches with a turn of the event loop between them: the pacer's timer runs meanwhile,
    // so the first probes leave while later addresses' sockets are still being opened, not after all of them.
    const running: Promise<void>[] = [];
    let failure: { error: unknown } | undefined;
    for (let index = 0; index < Math.min(settings.concurrency, targets.length) && hooks.signal?.aborted !== true; index++) {
      if (index > 0 && index % START_BATCH === 0) await new Promise((resolve) => setImmediate(resolve));
      running.push(
        worker().catch((error: unknown) => {
          failure ??= { error };
          pacer.close();
        }),
      );
    }
    await Promise.all(running);
    if (failure !== undefined) throw failure.error;
  } finally {
    hooks.signal?.removeEventListener('abort', abort);
    pacer.close();
    await ipmi?.close();
  }
  const order = new Map(targets.map((address, index) => [address, index]));
  found.sort((left, right) => order.get(left.address)! - order.get(right.address)!);
  return { scanId: hooks.scanId ?? randomUUID(), ranges: settings.ranges, startedAt, finishedAt: new Date().toISOString(), addresses: targets.length, probes: pacer.count, bmcs: found };
}

/** Workers started per turn of the event loop (each opens a socket first: tens of microseconds). */
const START_BATCH = 32;
