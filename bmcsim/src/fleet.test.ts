import { get as httpsGet } from 'node:https';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parse } from 'yaml';
import { run } from './testing/run.js';
import { stringifyAgentConfig } from './agent-config.js';
import { addressOf, startFleet, type Fleet } from './fleet.js';

let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
});

describe('startFleet', () => {
  it('allocates per-BMC loopback addresses', () => {
    expect(addressOf('127.1.0.1', 0)).toBe('127.1.0.1');
    expect(addressOf('127.1.0.1', 255)).toBe('127.1.1.0');
    expect(addressOf('127.1.0.1', 999)).toBe('127.1.3.232');
    expect(() => addressOf('10.0.0.1', 0)).toThrow(/loopback/);
  });

  it('starts BMCs on their own addresses that answer ipmitool, Redfish and RFB, and writes an agent config', async () => {
    fleet = await startFleet({ count: 3, baseAddress: '127.77.0.1', ports: { ipmi: 0, web: 0, vnc: 0 }, faults: { noSuite17: false }, faultsFor: (index) => (index === 2 ? { noSuite17: true } : undefined), timings: { postMs: 5, bootMs: 5 } });
    expect(fleet.bmcs.map((bmc) => bmc.address)).toEqual(['127.77.0.1', '127.77.0.2', '127.77.0.3']);
    const [first, , third] = fleet.bmcs;
    const status = await run('ipmitool', ['-I', 'lanplus', '-H', first!.ipmi.host, '-p', String(first!.ipmi.port), '-U', 'admin', '-P', 'adminpass', '-C', '17', 'chassis', 'power', 'status']);
    expect(status.stdout).toBe('Chassis Power is on\n');
    const refused = await run('ipmitool', ['-I', 'lanplus', '-H', third!.ipmi.host, '-p', String(third!.ipmi.port), '-U', 'admin', '-P', 'adminpass', '-C', '17', '-N', '1', '-R', '1', 'chassis', 'power', 'status']);
    expect(refused.code).not.toBe(0);
    const banner = await new Promise<string>((resolve, reject) => {
      const url = new URL(first!.vncUrl);
      const socket = connect(Number(url.port), url.hostname);
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString('latin1'));
      });
      socket.once('error', reject);
    });
    expect(banner).toBe('RFB 003.008\n');
    // HTTPS verifies against the fleet certificate: its SANs name every BMC address.
    const system = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpsGet(`${third!.redfishUrl}/redfish/v1/Systems/system`, { ca: fleet!.tls!.cert, auth: 'admin:adminpass' }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      request.on('error', reject);
    });
    expect(system.status).toBe(200);
    expect(JSON.parse(system.body)).toMatchObject({ Id: 'system', PowerState: 'On' });
    // /kvm/0 over wss on the same TLS front: the RFB banner arrives.
    const kvmBanner = await new Promise<string>((resolve, reject) => {
      const webSocket = new WebSocket(first!.kvmWsUrl, ['binary'], { ca: fleet!.tls!.cert, headers: { authorization: `Basic ${Buffer.from('admin:adminpass').toString('base64')}` } });
      webSocket.once('message', (data: Buffer) => {
        webSocket.close();
        resolve(data.toString('latin1'));
      });
      webSocket.once('error', reject);
    });
    expect(kvmBanner).toBe('RFB 003.008\n');
    const yaml = parse(stringifyAgentConfig(fleet.agentConfig)) as { servers: Array<Record<string, Record<string, unknown>>>; credentials: Array<Record<string, string>> };
    expect(yaml.servers).toHaveLength(3);
    expect(yaml.servers[0]!.ipmi).toEqual({ host: '127.77.0.1', port: first!.ipmi.port, credentials: 'bmcsim-admin', cipherSuite: 'auto', privilege: 'administrator' });
    expect(yaml.servers[0]!.redfish!.url).toBe(first!.redfishUrl);
    expect((yaml.servers[0]!.redfish!.tls as { fingerprint256: string }).fingerprint256).toBe(fleet.tls!.fingerprint256);
    expect(yaml.credentials).toEqual([{ id: 'bmcsim-admin', username: 'admin', passwordEnv: 'BMCSIM_ADMIN_PASSWORD' }]);
    expect(JSON.stringify(yaml)).not.toContain('adminpass');
    expect(fleet.agentEnvironment).toEqual({ BMCSIM_ADMIN_PASSWORD: 'adminpass' });
  });
});
