import { createSocket } from 'node:dgram';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { startIpmiBmc } from '../testing/ipmi-bmc.js';
import { run } from '../testing/run.js';
import type { Bmc } from '../bmc/bmc.js';

// Random and mutated datagrams at a live BMC: it must drop them silently and
// keep serving a real client afterwards.

const started: Bmc[] = [];
afterEach(async () => {
  for (const bmc of started.splice(0)) await bmc.stop();
});

describe('IPMI LAN server under hostile datagrams', () => {
  it('survives 3,000 random and mutated datagrams, then still answers ipmitool', async () => {
    const { bmc, port } = await startIpmiBmc();
    started.push(bmc);
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    // Valid-looking prefixes (RMCP + v1.5 / RMCP+ headers) so parsing goes deep, then random tails.
    const prefixes = [Uint8Array.of(6, 0, 0xff, 7, 0x06), Uint8Array.of(6, 0, 0xff, 7, 0x00), Uint8Array.of(6, 0, 0xff, 7, 0x02), Uint8Array.of(6, 0, 0xff, 6), new Uint8Array()];
    const datagrams = fc.sample(fc.tuple(fc.constantFrom(...prefixes), fc.uint8Array({ maxLength: 120 })), 3000);
    for (const [prefix, tail] of datagrams) {
      await new Promise<void>((resolve) => socket.send(Buffer.concat([prefix, tail]), port, '127.0.0.1', () => resolve()));
    }
    socket.close();
    const status = await run('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', 'admin', '-P', 'adminpass', '-C', '17', 'chassis', 'power', 'status']);
    expect(status.stdout).toBe('Chassis Power is on\n');
  });
});
