import { describe, expect, it } from 'vitest';
import { ipmiBmcFixtures, waitForState } from '../testing/ipmi-bmc.js';
import { PtyClient } from '../testing/pty.js';
import { run } from '../testing/run.js';
import { waitFor } from '@lightsout/lab/wait';

// The real ipmitool (Debian) against the simulated BMC. ipmi_sim has no
// suite 17, so this is where suite 17 gets its third-party check.

const { bmcWithPort, clients } = ipmiBmcFixtures();

const lanplus = (port: number, suite: number, ...command: string[]) => run('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', 'admin', '-P', 'adminpass', '-C', String(suite), '-N', '1', '-R', '2', ...command]);

describe.each([3, 17])('ipmitool -I lanplus -C %i', (suite) => {
  it('reads and drives chassis power', async () => {
    const { bmc, port } = await bmcWithPort();
    expect((await lanplus(port, suite, 'chassis', 'power', 'status')).stdout).toBe('Chassis Power is on\n');
    expect((await lanplus(port, suite, 'chassis', 'power', 'off')).stdout).toContain('Down/Off');
    expect(bmc.host.powerState).toBe('off');
    expect((await lanplus(port, suite, 'chassis', 'power', 'status')).stdout).toBe('Chassis Power is off\n');
    expect((await lanplus(port, suite, 'chassis', 'power', 'on')).stdout).toContain('Up/On');
    expect(bmc.host.poweredOn).toBe(true);
    await waitForState(bmc.host, 'running');
    const bootsBefore = bmc.host.bootCount;
    expect((await lanplus(port, suite, 'chassis', 'power', 'cycle')).stdout).toContain('Cycle');
    await waitForState(bmc.host, 'running');
    expect(bmc.host.bootCount).toBe(bootsBefore + 1);
    expect((await lanplus(port, suite, 'chassis', 'power', 'reset')).stdout).toContain('Reset');
    expect(bmc.host.bootCount).toBe(bootsBefore + 2);
    await waitForState(bmc.host, 'running');
    expect((await lanplus(port, suite, 'chassis', 'power', 'soft')).stdout).toContain('Soft');
    expect(bmc.host.powerState).toBe('shutting-down');
    await waitForState(bmc.host, 'off');
  });

  it('sets the boot device and lists SDRs and the SEL', async () => {
    const { bmc, port } = await bmcWithPort();
    expect((await lanplus(port, suite, 'chassis', 'bootdev', 'pxe')).stdout).toContain('Set Boot Device to pxe');
    expect(bmc.host.bootOverride).toEqual({ device: 'pxe', persistent: false, uefi: false });
    const sdr = await lanplus(port, suite, 'sdr', 'list');
    expect(sdr.code, sdr.stderr).toBe(0);
    const rows = sdr.stdout.trim().split('\n').map((line) => line.split('|').map((cell) => cell.trim()));
    expect(rows.map((row) => row[0])).toEqual(['CPU Temp', 'Inlet Temp', 'Fan1', '12V', '3.3V']);
    expect(rows.every((row) => row[2] === 'ok')).toBe(true);
    const cpu = Number.parseFloat(rows[0]![1]!);
    expect(cpu).toBeGreaterThanOrEqual(44);
    expect(cpu).toBeLessThanOrEqual(52);
    expect(rows[2]![1]).toMatch(/^\d+ RPM$/);
    bmc.host.powerOff();
    const sel = await lanplus(port, suite, 'sel', 'list');
    expect(sel.code, sel.stderr).toBe(0);
    const events = sel.stdout.trim().split('\n');
    expect(events).toHaveLength(2);
    expect(events[0]).toMatch(/^\s*1 \| .* \| System ACPI Power State #0x31 \| S0\/G0: working .*\| Asserted$/);
    expect(events[1]).toMatch(/^\s*2 \| .* \| Power Unit #0x30 \| Power off\/down .*\| Asserted$/);
  });

  it('logs a platform event (ipmitool event 1) in the SEL as sent, with Severity Critical for Redfish', async () => {
    const { bmc, port } = await bmcWithPort();
    const sent = await lanplus(port, suite, 'event', '1');
    expect(sent.code).toBe(0);
    const sel = await lanplus(port, suite, 'sel', 'list');
    expect(sel.stdout).toMatch(/Temperature #0x30 \| Upper Critical going high \| Asserted/);
    const logged = bmc.eventLog.entries.at(-1)!;
    expect(logged).toMatchObject({ event: 'platform', message: 'Temperature Upper Critical going high', severity: 'Critical', sensor: 'Temperature' });
  });

  it('carries SOL both ways byte for byte through a pty', async () => {
    const { bmc, port } = await bmcWithPort();
    const client = new PtyClient('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', 'admin', '-P', 'adminpass', '-C', String(suite), 'sol', 'activate']);
    clients.push(client);
    await client.waitFor((text) => text.includes('SOL Session operational'), 10_000, 'SOL banner');
    // ipmitool switches the terminal to raw mode just after its banner; until then the
    // pty turns CR into LF. One Enter round trip (answered by a fresh login prompt) orders us after that.
    client.write('\r');
    await client.waitFor((text) => text.endsWith('sim-01 login: '), 10_000, 'login prompt');
    let typed = '';
    const originalType = bmc.host.type.bind(bmc.host);
    bmc.host.type = (bytes: Uint8Array) => {
      typed += Buffer.from(bytes).toString('latin1');
      originalType(bytes);
    };
    const mark = client.text.length;
    client.write('root\r');
    await client.waitFor((text) => text.endsWith('root@sim-01:~# '), 10_000, 'shell prompt');
    client.write('echo 0123456789 abcdefghij\r');
    await client.waitFor((text) => text.endsWith('0123456789 abcdefghij\r\nroot@sim-01:~# '), 10_000, 'echo');
    expect(typed).toBe('root\recho 0123456789 abcdefghij\r');
    expect(client.text.slice(mark)).toBe("root\r\nWelcome to sim-01 (bmcsim simulated host). Type 'help'.\r\nroot@sim-01:~# echo 0123456789 abcdefghij\r\n0123456789 abcdefghij\r\nroot@sim-01:~# ");
    // 3,000 bytes of host output: many SOL packets, each ACKed before the next.
    const pattern = Array.from({ length: 3000 }, (_, index) => String.fromCharCode(0x21 + (index % 90))).join('');
    const before = client.text.length;
    bmc.host.writeConsole(Buffer.from(pattern, 'latin1'));
    await client.waitFor((text) => text.length - before >= pattern.length, 10_000, 'pattern');
    expect(client.text.slice(before)).toBe(pattern);
    client.write('\r~.');
    expect(await client.exited()).toBe(0);
  });
});

describe('identity: FRU device 0 and the system firmware version', () => {
  it('ipmitool fru print 0 shows the machine the Redfish ComputerSystem describes, and mc getsysinfo its BIOS version', async () => {
    const { port } = await bmcWithPort();
    const fru = await lanplus(port, 17, 'fru', 'print', '0');
    expect(fru.code, fru.stderr).toBe(0);
    // bmcsim-01's seed is 1: serial SIM000001 (Redfish SerialNumber says the same)
    expect(fru.stdout).toMatch(/^ Product Manufacturer\s+: Lightsout$/m);
    expect(fru.stdout).toMatch(/^ Product Name\s+: bmcsim virtual server$/m);
    expect(fru.stdout).toMatch(/^ Product Serial\s+: SIM000001$/m);
    expect(fru.stdout).toMatch(/^ Chassis Type\s+: Rack Mount Chassis$/m);
    expect(fru.stdout).toMatch(/^ Board Mfg Date\s+: Mon Jan {2}1 00:00:00 2024 UTC$/m);
    const bios = await lanplus(port, 17, 'mc', 'getsysinfo', 'system_fw_version');
    expect(bios.code, bios.stderr).toBe(0);
    expect(bios.stdout.trim()).toBe('2.4.1');
  });
});

describe('session timeout', () => {
  it('a killed SOL client holds the payload (0x80) until its session times out', async () => {
    const { bmc, port } = await bmcWithPort({}, true, 1);
    const first = new PtyClient('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', 'admin', '-P', 'adminpass', '-C', '17', 'sol', 'activate']);
    clients.push(first);
    await first.waitFor((text) => text.includes('SOL Session operational'), 10_000, 'first SOL');
    first.kill(); // SIGKILL: no Deactivate Payload, no Close Session
    const second = await run('script', ['-qfec', `ipmitool -I lanplus -H 127.0.0.1 -p ${port} -U admin -P adminpass -C 17 sol activate`, '/dev/null'], { timeoutMs: 15_000 });
    expect(second.stdout + second.stderr).toMatch(/SOL payload already active on another session/);
    // The orphaned session idles out after 1 s; the sweep then frees SOL.
    await waitFor('session timeout', () => bmc.host.listenerCount('serial') === 0, { timeoutMs: 5000, intervalMs: 50 });
    const third = new PtyClient('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', 'admin', '-P', 'adminpass', '-C', '17', 'sol', 'activate']);
    clients.push(third);
    await third.waitFor((text) => text.includes('SOL Session operational'), 10_000, 'SOL after timeout');
  });
});

describe('ipmitool -I lan (IPMI v1.5)', () => {
  it.each(['MD5', 'PASSWORD'])('reads power with %s authentication and refuses a wrong password', async (authType) => {
    const { bmc, port } = await bmcWithPort();
    const base = ['-I', 'lan', '-H', '127.0.0.1', '-p', String(port), '-U', 'admin', '-A', authType, '-N', '1', '-R', '1'];
    expect((await run('ipmitool', [...base, '-P', 'adminpass', 'chassis', 'power', 'status'])).stdout).toBe('Chassis Power is on\n');
    expect((await run('ipmitool', [...base, '-P', 'adminpass', 'chassis', 'power', 'off'])).code).toBe(0);
    expect(bmc.host.powerState).toBe('off');
    const wrong = await run('ipmitool', [...base, '-P', 'nope', 'chassis', 'power', 'status']);
    expect(wrong.code).not.toBe(0);
  });
});

describe('privileges', () => {
  it('refuses power control to a USER-level session and a wrong password over lanplus', async () => {
    const { bmc, port } = await bmcWithPort();
    const viewer = await run('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', 'viewer', '-P', 'viewpass', '-L', 'USER', '-C', '17', 'chassis', 'power', 'off']);
    expect(viewer.code).not.toBe(0);
    expect(viewer.stderr).toMatch(/Insufficient privilege/i);
    expect(bmc.host.poweredOn).toBe(true);
    const escalate = await run('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', 'viewer', '-P', 'viewpass', '-C', '17', '-N', '1', '-R', '1', 'chassis', 'power', 'status']);
    expect(escalate.code).not.toBe(0); // viewer may not open an ADMINISTRATOR session
    const wrong = await run('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', 'admin', '-P', 'wrong', '-C', '3', '-N', '1', '-R', '1', 'chassis', 'power', 'status']);
    expect(wrong.code).not.toBe(0);
  });
});
