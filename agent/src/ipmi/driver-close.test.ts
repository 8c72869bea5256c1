import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { IpmiDriver } from './driver.js';
import { SessionPool } from './pool.js';

describe('an IPMI driver closed while an operation waits for the session pool', () => {
  it('fails that operation with BMC_UNREACHABLE and never logs in to the BMC', async () => {
    // Stands in for the BMC's port: it only counts what arrives.
    const bmc = createSocket('udp4');
    let datagrams = 0;
    bmc.on('message', () => (datagrams += 1));
    bmc.bind(0, '127.0.0.1');
    await once(bmc, 'listening');
    const pool = new SessionPool(1);
    let release!: () => void;
    const busy = pool.run(() => new Promise<void>((resolve) => (release = resolve)));
    const driver = new IpmiDriver({ host: '127.0.0.1', port: (bmc.address() as AddressInfo).port, credentials: { username: 'admin', password: 'password' }, pool, timing: { handshakeTimeoutMs: 200, handshakeAttempts: 1 } });
    try {
      const status = driver.powerGet();
      await driver.close();
      release();
      await busy;
      await expect(status).rejects.toMatchObject({ code: 'BMC_UNREACHABLE' });
      expect(datagrams).toBe(0);
    } finally {
      bmc.close();
    }
  });
});
