import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_HINTS, ERROR_CODES, type ErrorCode } from '@lightsout/shared';
import { ExitCode } from '../exit-codes.js';
import { relayStubs, runCli } from '../testing/relay-stub.js';

const relays = relayStubs();
afterEach(relays.closeAll);

describe('lightsout boot', () => {
  it('sends no boot mode unless --uefi or --legacy is given', async () => {
    const relay = await relays.start(() => ({ status: 200, body: { device: 'pxe', persistent: false, uefi: true } }));
    expect((await runCli(['boot', 'pxe', 'web-01'], relay.url)).code).toBe(ExitCode.OK);
    expect((await runCli(['boot', 'pxe', 'web-01', '--legacy'], relay.url)).code).toBe(ExitCode.OK);
    expect((await runCli(['boot', 'pxe', 'web-01', '--uefi'], relay.url)).code).toBe(ExitCode.OK);
    expect(relay.seen.map((entry) => entry.body)).toEqual([
      { device: 'pxe', persistent: false },
      { device: 'pxe', persistent: false, uefi: false },
      { device: 'pxe', persistent: false, uefi: true },
    ]);
    expect((await runCli(['boot', 'pxe', 'web-01', '--uefi', '--legacy'], relay.url)).code).toBe(ExitCode.USAGE);
  });

  it('says so and exits 6 when the BMC did not keep what was asked', async () => {
    const warning = 'the BMC accepted the boot override but kept the override persistent instead of for the next boot only';
    const relay = await relays.start(() => ({ status: 200, body: { device: 'pxe', persistent: true, uefi: true, warning } }));
    const result = await runCli(['boot', 'pxe', 'web-01'], relay.url);
    expect(result.code).toBe(ExitCode.BMC_DIFFERS);
    expect(result.stderr).toBe(`warning: web-01: ${warning}\n`);
    expect(result.stdout).toBe('web-01: boot pxe (persistent, UEFI)\n');
  });
});

describe('lightsout power', () => {
  const since = '2026-12-05T01:00:00.000Z';
  const pending = { action: 'cycle', target: 'on', since };
  function relayConfirming(outcome: { confirmed: boolean; power: 'on' | 'off' }, pendingReads: number) {
    let reads = 0;
    return relays.start((seen) => {
      if (seen.method === 'POST') return { status: 200, body: { power: 'on', pending, via: 'PowerCycle' } };
      reads += 1;
      if (reads <= pendingReads) return { status: 200, body: { id: 'web-01', power: 'on', pendingPower: pending, lastPower: null } };
      return { status: 200, body: { id: 'web-01', power: outcome.power, pendingPower: null, lastPower: { action: 'cycle', target: 'on', confirmed: outcome.confirmed, at: since, seconds: 7.5 } } };
    });
  }

  it('prints the action as accepted, then the state the BMC confirmed (not the one read right after the command)', async () => {
    const relay = await relayConfirming({ confirmed: true, power: 'on' }, 2);
    const result = await runCli(['power', 'cycle', 'web-01'], relay.url);
    expect(result).toEqual({
      code: ExitCode.OK,
      stdout: 'web-01: power cycle done: power on (after 7.5 s)\n',
      stderr: 'web-01: power cycle accepted (PowerCycle); waiting for the BMC to report on\n',
    });
    expect(relay.seen.filter((entry) => entry.method === 'GET').map((entry) => entry.url)).toEqual(['/v1/servers/web-01', '/v1/servers/web-01', '/v1/servers/web-01']);
  });

  it('fails with BMC_TIMEOUT when the relay gave up before the BMC reported the target', async () => {
    const relay = await relayConfirming({ confirmed: false, power: 'off' }, 0);
    const result = await runCli(['power', 'cycle', 'web-01'], relay.url);
    expect(result.code).toBe(ExitCode.UNAVAILABLE);
    expect(result.stderr).toMatch(/error BMC_TIMEOUT: power cycle was accepted, but after 7.5 s the BMC still reports power off/);
  });

  it('stops at "accepted" with --no-wait', async () => {
    const relay = await relayConfirming({ confirmed: true, power: 'on' }, 0);
    const result = await runCli(['power', 'cycle', 'web-01', '--no-wait'], relay.url);
    expect(result).toEqual({ code: ExitCode.OK, stdout: 'web-01: power cycle accepted (PowerCycle)\n', stderr: '' });
    expect(relay.seen).toHaveLength(1);
  });
});

describe('lightsout identity', () => {
  it('prints what the BMC reported, names an IPMI manufacturer it could not name by its number, and says what it did not report', async () => {
    const relay = await relays.start(() => ({ status: 200, body: { source: 'ipmi', manufacturerId: 47009, productId: 0x42, bmcFirmware: '2.05' } }));
    const result = await runCli(['identity', 'web-01'], relay.url);
    expect(result).toEqual({
      code: ExitCode.OK,
      stdout: 'vendor       IANA enterprise 47009\nmodel        product ID 0x0042\nserial       not reported\nBMC firmware 2.05\nBIOS         not reported\nread over    IPMI\n',
      stderr: '',
    });
    expect(relay.seen.map((entry) => entry.url)).toEqual(['/v1/servers/web-01/identity']);
  });

  it('prints an IPMI identity read from the FRU and the system info parameters', async () => {
    const relay = await relays.start(() => ({ status: 200, body: { source: 'ipmi', vendor: 'Lightsout', manufacturerId: 47009, model: 'Lab Server 1000 (LS-1000)', productId: 0x42, serialNumber: 'PSN-0042', bmcFirmware: '2.05', biosVersion: '2.4.1' } }));
    const result = await runCli(['identity', 'web-01'], relay.url);
    expect(result.stdout).toBe('vendor       Lightsout\nmodel        Lab Server 1000 (LS-1000)\nserial       PSN-0042\nBMC firmware 2.05\nBIOS         2.4.1\nread over    IPMI\n');
  });
});

describe('BMC errors', () => {
  // Every code a BMC failure can carry, and the media and power codes that name one: none may reach a person without a next step.
  const bmcCodes = (Object.keys(ERROR_CODES) as ErrorCode[]).filter((code) => code.startsWith('BMC_') || code.startsWith('MEDIA_') || code === 'POWER_UNCONFIRMED');

  it.each(bmcCodes)('%s prints its hint line when the agent sent none', async (code) => {
    const relay = await relays.start(() => ({ status: ERROR_CODES[code], body: { code, message: 'what the BMC said' } }));
    expect(DEFAULT_HINTS[code]).toBeTruthy();
    const result = await runCli(['sensors', 'web-01'], relay.url);
    expect(result.stderr).toBe(`error ${code}: what the BMC said\nhint: ${DEFAULT_HINTS[code]}\n`);
  });

  it('print a hint line even when the agent sent none', async () => {
    const relay = await relays.start(() => ({ status: 502, body: { code: 'BMC_UNREACHABLE', message: 'GET /redfish/v1/: ECONNREFUSED' } }));
    const result = await runCli(['sensors', 'web-01'], relay.url);
    expect(result.code).toBe(ExitCode.UNAVAILABLE);
    expect(result.stderr).toMatch(/^error BMC_UNREACHABLE: GET \/redfish\/v1\/: ECONNREFUSED\nhint: check that the agent reaches the BMC/);
  });
});

describe('console and vnc on a server with neither', () => {
  it('say it has none instead of pointing at the other command', async () => {
    const relay = await relays.start(() => ({ status: 200, body: { id: 'pdu-01', capabilities: ['power', 'sensors'] } }));
    const text = await runCli(['console', 'pdu-01'], relay.url);
    expect(text.code).toBe(ExitCode.UNAVAILABLE);
    expect(text.stderr).toBe('error BMC_UNSUPPORTED: server pdu-01 has no text console (SOL or serial)\nhint: it has no graphical console either (it offers: power, sensors)\n');
    const graphical = await runCli(['vnc', 'pdu-01'], relay.url);
    expect(graphical.stderr).toBe('error BMC_UNSUPPORTED: server pdu-01 has no graphical console\nhint: it has no text console either (it offers: power, sensors)\n');
  });

  it('point at the other console when there is one', async () => {
    const relay = await relays.start(() => ({ status: 200, body: { id: 'kvm-01', capabilities: ['power', 'vnc'] } }));
    expect((await runCli(['console', 'kvm-01'], relay.url)).stderr).toMatch(/hint: use `lightsout vnc` for its graphical console/);
  });
});
