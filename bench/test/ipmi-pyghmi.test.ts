import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIpmiDriver, type IpmiDriver, type SolHubEvent } from '@lightsout/agent/ipmi';

/**
 * The agent's IPMI driver against an independent BMC implementation:
 * Debian's python3-pyghmi (`lab/assets/ipmi/pyghmi-bmc.py`). pyghmi answers a
 * suite-17 Open Session with suite 3's algorithms, has no Get Payload
 * Instance Info and no SDR repository — the three behaviours bmcsim's
 * answerSuite3, noPayloadInstanceInfo and noSdrRepository knobs copy.
 */
const script = fileURLToPath(new URL('../../lab/assets/ipmi/pyghmi-bmc.py', import.meta.url));
let bmc: ChildProcess;
let port: number;
const drivers: IpmiDriver[] = [];

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port: free } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return free;
}

beforeAll(async () => {
  port = await freeUdpPort();
  bmc = spawn('/usr/bin/python3', [script, String(port), 'admin', 'adminpass'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('pyghmi BMC did not start within 10 s')), 10_000);
    bmc.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    bmc.once('exit', (code) => reject(new Error(`pyghmi BMC exited with ${code}`)));
  });
});
afterAll(async () => {
  await Promise.all(drivers.map((driver) => driver.close()));
  bmc?.kill();
});

const driverFor = (options: Partial<Parameters<typeof createIpmiDriver>[0]> = {}) => {
  const driver = createIpmiDriver({ host: '127.0.0.1', port, credentials: { username: 'admin', password: 'adminpass' }, ...options });
  drivers.push(driver);
  return driver;
};

describe('IpmiDriver against pyghmi\'s BMC', () => {
  it('takes the suite 3 pyghmi answers to a suite-17 Open Session, and reads power', async () => {
    const driver = driverFor();
    expect(await driver.powerGet()).toEqual({ power: 'on' });
    expect(driver.negotiated).toEqual({ protocol: 'ipmi-v2.0', cipherSuite: 3 });
  });

  it('reads the SEL of a BMC without an SDR repository', async () => {
    const { entries } = await driverFor().sel();
    expect(entries.map((entry) => [entry.sensor, entry.event])).toEqual([
      ['power unit #48', expect.stringMatching(/power off/i)],
      [expect.stringMatching(/#49$/), expect.stringMatching(/S0/)],
    ]);
  });

  it('keeps SOL open without Get Payload Instance Info, and deactivates it when the last viewer leaves', async () => {
    const driver = driverFor({ sol: { timing: { keepaliveMs: 100 } } });
    const events: SolHubEvent[] = [];
    const chunks: Buffer[] = [];
    const viewer = await driver.sol().attach('viewer', { mode: 'control' }, { onData: (bytes) => chunks.push(Buffer.from(bytes)), onEvent: (event) => events.push(event) });
    const started = Date.now();
    await expect.poll(() => Date.now() - started >= 1000, { timeout: 3000, interval: 100 }).toBe(true);
    viewer.write(Buffer.from('echo me'));
    await expect.poll(() => Buffer.concat(chunks).toString(), { timeout: 5000 }).toContain('echo me');
    expect(events.filter((event) => event.type === 'ended')).toEqual([]);
    viewer.detach();
    // Deactivated: a new attach finds SOL free (pyghmi answers 0x80 while it is active).
    await expect.poll(async () => {
      const again = await driverFor().sol().attach('again', { mode: 'control' }, { onData: () => undefined }).catch(() => undefined);
      again?.detach();
      return again !== undefined;
    }, { timeout: 5000 }).toBe(true);
  });
});
