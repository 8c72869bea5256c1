import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '@lightsout/bmcsim';
import { scanRanges, type ScanResult } from '@lightsout/agent/discovery';
import { freeTcpPort, freeUdpPort, startIpmiSim, type IpmiSimLab } from '@lightsout/lab';

/**
 * The agent's discovery scan against 200 simulated BMCs scattered over a
 * 127.x /24 (some IPMI v1.5 only), OpenIPMI's ipmi_sim as a real peer at
 * another address of the range, and two decoys that must not count: a UDP
 * service on the IPMI port that answers garbage, and an HTTPS server whose
 * /redfish/v1/ is not a service root. The scan must find exactly the 201
 * BMCs, and no second may carry more probes than its limit. (The full /22
 * with 1,000 BMCs is the discovery-scan benchmark.)
 */
const PROBES_PER_SECOND = 400;
const prefix = `127.${90 + randomInt(10)}.${randomInt(256)}`;
const range = `${prefix}.0/24`;
const hosts = Array.from({ length: 254 }, (_, index) => `${prefix}.${index + 1}`).sort(() => Math.random() - 0.5);
const fleetAddresses = hosts.slice(0, 200);
const [ipmiSimAddress, udpDecoyAddress, httpsDecoyAddress] = hosts.slice(200, 203) as [string, string, string];

let fleet: Fleet;
let ipmiSim: IpmiSimLab;
let udpDecoy: Socket;
let httpsDecoy: Server;
let result: ScanResult;
const probeTimes: number[] = [];
let scanSeconds = 0;

beforeAll(async () => {
  const ports = { ipmi: await freeUdpPort(), web: await freeTcpPort(), vnc: await freeTcpPort() };
  fleet = await startFleet({ count: fleetAddresses.length, addresses: fleetAddresses, ports, faultsFor: (index) => (index % 10 === 0 ? { v15Only: true } : undefined), idPrefix: 'disc' });
  ipmiSim = await startIpmiSim({ address: ipmiSimAddress, lanPort: ports.ipmi, powered: false, plugin: false });
  udpDecoy = createSocket('udp4');
  udpDecoy.on('message', (_message, remote) => udpDecoy.send(Buffer.from('not RMCP at all'), remote.port, remote.address));
  await new Promise<void>((resolve) => udpDecoy.bind(ports.ipmi, udpDecoyAddress, resolve));
  httpsDecoy = createServer({ key: fleet.tls!.key, cert: fleet.tls!.cert }, (_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end('{"hello":"not redfish"}'));
  await new Promise<void>((resolve) => httpsDecoy.listen(ports.web, httpsDecoyAddress, resolve));
  const started = performance.now();
  result = await scanRanges(
    { ranges: [range], protocols: ['ipmi', 'redfish'], ipmiPort: ports.ipmi, redfishPort: ports.web, probesPerSecond: PROBES_PER_SECOND, concurrency: 32, timeoutMs: 500, retries: 1 },
    { onProbe: () => probeTimes.push(performance.now()) },
  );
  scanSeconds = (performance.now() - started) / 1000;
}, 180_000);

afterAll(async () => {
  await new Promise<void>((resolve) => (udpDecoy ? udpDecoy.close(() => resolve()) : resolve()));
  await new Promise<void>((resolve) => (httpsDecoy ? httpsDecoy.close(() => resolve()) : resolve()));
  await ipmiSim?.stop();
  await fleet?.stop();
});

/** The most probes inside any window of one second. */
function busiestSecond(times: readonly number[]): number {
  let most = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while (times[end]! - times[start]! >= 1000) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

describe('discovery scan of a /24', () => {
  it('finds every simulated BMC and ipmi_sim, and nothing else', () => {
    const found = result.bmcs.map((bmc) => bmc.address).sort();
    expect(found).toEqual([...fleetAddresses, ipmiSimAddress].sort());
    expect(result.addresses).toBe(254);
  });

  it('reports what each BMC says without a login: both protocols, vendor, and one UUID for both', () => {
    const byAddress = new Map(result.bmcs.map((bmc) => [bmc.address, bmc]));
    for (const [index, simulated] of fleet.bmcs.entries()) {
      const bmc = byAddress.get(simulated.address)!;
      expect(bmc.protocols).toEqual(['ipmi', 'redfish']);
      expect(bmc.ipmi).toMatchObject({ asf: true, ipmi15: true, ipmi20: index % 10 !== 0, guid: simulated.bmc.uuid });
      expect(bmc.redfish).toMatchObject({ uuid: simulated.bmc.uuid, vendor: 'Lightsout bmcsim', redfishVersion: '1.11.0', fingerprint256: fleet.tls!.fingerprint256.replaceAll(':', '').toLowerCase() });
    }
    const lab = byAddress.get(ipmiSimAddress)!;
    expect(lab.protocols).toEqual(['ipmi']);
    // ipmi_sim answers Get System GUID outside a session too: its configured "LIGHTSOUT-LAB-01", cut to 15 characters and a NUL.
    expect(lab.ipmi).toMatchObject({ port: ipmiSim.port, asf: true, ipmi20: true, authTypes: expect.arrayContaining(['md5', 'straight']), guid: '00302d42-414c-2d54-554f-53544847494c' });
  });

  it('keeps to its probe rate in every second', () => {
    expect(probeTimes.length).toBe(result.probes);
    expect(busiestSecond(probeTimes)).toBeLessThanOrEqual(PROBES_PER_SECOND);
    // More probes than one second's worth: the limit, not the BMCs, set the pace.
    expect(result.probes).toBeGreaterThan(2 * PROBES_PER_SECOND);
    expect(scanSeconds).toBeGreaterThanOrEqual(result.probes / PROBES_PER_SECOND - 1);
  });
});
