import { describe, expect, it } from 'vitest';
import { ipmiBmcFixtures } from '../testing/ipmi-bmc.js';
import { run } from '../testing/run.js';

// Each fault knob, seen through a real client.

const { bmcWithPort } = ipmiBmcFixtures();

const ipmitool = (port: number, ...args: string[]) => run('ipmitool', ['-H', '127.0.0.1', '-p', String(port), '-U', 'admin', '-P', 'adminpass', '-N', '1', '-R', '1', ...args]);

describe('IPMI fault knobs', () => {
  it('noSuite17: suite 17 is refused, suite 3 works', async () => {
    const { port } = await bmcWithPort({ noSuite17: true });
    const seventeen = await ipmitool(port, '-I', 'lanplus', '-C', '17', 'chassis', 'power', 'status');
    expect(seventeen.code).not.toBe(0);
    expect(seventeen.stderr).toMatch(/authentication algorithm|no matching cipher suite|Unable to establish/i);
    expect((await ipmitool(port, '-I', 'lanplus', '-C', '3', 'chassis', 'power', 'status')).stdout).toBe('Chassis Power is on\n');
    // Get Channel Cipher Suites lists what is really offered.
    const ciphers = await ipmitool(port, '-I', 'lanplus', '-C', '3', 'channel', 'getciphers', 'ipmi');
    expect(ciphers.stdout).toMatch(/^3\s+N\/A\s+hmac_sha1\s+hmac_sha1_96\s+aes_cbc_128\s*$/m);
    expect(ciphers.stdout).not.toMatch(/^17\s/m);
  });

  it('lists suites 1, 2, 3 and 17 by default', async () => {
    const { port } = await bmcWithPort();
    const ciphers = await ipmitool(port, '-I', 'lanplus', '-C', '17', 'channel', 'getciphers', 'ipmi');
    expect(ciphers.stdout.trim().split('\n').slice(1).map((line) => line.split(/\s+/)[0])).toEqual(['1', '2', '3', '17']);
    expect(ciphers.stdout).toMatch(/^17\s+N\/A\s+hmac_sha256\s+sha256_128\s+aes_cbc_128\s*$/m);
  });

  it('v15Only: lanplus fails, lan (v1.5) works', async () => {
    const { port } = await bmcWithPort({ v15Only: true });
    expect((await ipmitool(port, '-I', 'lanplus', '-C', '3', 'chassis', 'power', 'status')).code).not.toBe(0);
    expect((await ipmitool(port, '-I', 'lan', '-A', 'MD5', 'chassis', 'power', 'status')).stdout).toBe('Chassis Power is on\n');
  });

  it.each([2, 4] as const)('dropRakpReply %i: the handshake never completes', async (step) => {
    const { bmc, port } = await bmcWithPort({ dropRakpReply: step });
    const result = await ipmitool(port, '-I', 'lanplus', '-C', '17', 'chassis', 'power', 'off');
    expect(result.code).not.toBe(0);
    expect(bmc.host.poweredOn).toBe(true);
  });

  it('answerSuite3: Open Session for suite 17 is answered with status 0 and suite 3 (ipmitool 1.8.19 gives up; suite 3 works)', async () => {
    const { port } = await bmcWithPort({ answerSuite3: true });
    const seventeen = await ipmitool(port, '-I', 'lanplus', '-C', '17', '-vv', 'chassis', 'power', 'status');
    expect(seventeen.code).not.toBe(0);
    expect(seventeen.stdout + seventeen.stderr).toMatch(/RMCP\+ status\s+: no errors/);
    expect(seventeen.stdout + seventeen.stderr).toMatch(/Authentication algorithm 0x01 is not what we requested 0x03/);
    expect((await ipmitool(port, '-I', 'lanplus', '-C', '3', 'chassis', 'power', 'status')).stdout).toBe('Chassis Power is on\n');
  });

  it('noPayloadInstanceInfo: Get Payload Instance Info is an unknown command (0xC1)', async () => {
    const { port } = await bmcWithPort({ noPayloadInstanceInfo: true });
    const result = await ipmitool(port, '-I', 'lanplus', '-C', '17', 'raw', '0x06', '0x4b', '0x01', '0x01');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/rsp=0xc1/);
  });

  it('noSdrRepository: the SEL reads, the SDR is an unknown command', async () => {
    const { bmc, port } = await bmcWithPort({ noSdrRepository: true });
    bmc.host.powerOff();
    expect((await ipmitool(port, '-I', 'lanplus', '-C', '17', 'sdr', 'list')).code).not.toBe(0);
    const raw = await ipmitool(port, '-I', 'lanplus', '-C', '17', 'raw', '0x0a', '0x22');
    expect(raw.stderr).toMatch(/rsp=0xc1/);
    const sel = await ipmitool(port, '-I', 'lanplus', '-C', '17', 'sel', 'list');
    expect(sel.code).toBe(0);
    expect(sel.stdout).toMatch(/Power Unit #0x30 \| Power off\/down/);
  });

  it('noFru: the FRU commands are unknown (0xC1) and Get Device ID has no FRU-inventory bit', async () => {
    const { port } = await bmcWithPort({ noFru: true });
    const raw = await ipmitool(port, '-I', 'lanplus', '-C', '17', 'raw', '0x0a', '0x10', '0x00');
    expect(raw.stderr).toMatch(/rsp=0xc1/);
    const info = await ipmitool(port, '-I', 'lanplus', '-C', '17', 'mc', 'info');
    expect(info.stdout).not.toMatch(/FRU Inventory Device/);
    const { port: withFru } = await bmcWithPort();
    expect((await ipmitool(withFru, '-I', 'lanplus', '-C', '17', 'mc', 'info')).stdout).toMatch(/FRU Inventory Device/);
  });

  it('udpLatencyMs delays every answer; udpLossPercent 100 silences the BMC', async () => {
    const { port: slowPort } = await bmcWithPort({ udpLatencyMs: 150 });
    const started = performance.now();
    expect((await ipmitool(slowPort, '-I', 'lanplus', '-C', '3', 'chassis', 'power', 'status')).stdout).toBe('Chassis Power is on\n');
    // Auth caps, Open Session, RAKP 2, RAKP 4, Set Privilege, Get Chassis Status, Close: ≥ 6 answers.
    expect(performance.now() - started).toBeGreaterThan(6 * 150);
    const { port: deadPort } = await bmcWithPort({ udpLossPercent: 100 });
    expect((await ipmitool(deadPort, '-I', 'lanplus', '-C', '3', 'chassis', 'power', 'status')).code).not.toBe(0);
  });
});
