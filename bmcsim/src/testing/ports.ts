import { createSocket } from 'node:dgram';

/**
 * A free UDP port below 32768. FreeIPMI 1.6.10's ipmiconsole rejects a
 * `host:port` whose port is above 32767 ("hostname invalid"), and the kernel's
 * ephemeral range starts at 32768, so port 0 cannot be used for it. Random
 * candidates in 20000–32767 are probed by binding (bounded attempts).
 */
export async function freeLowUdpPort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12768);
    const free = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('error', () => {
        socket.close();
        resolve(false);
      });
      socket.bind(port, host, () => socket.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free UDP port below 32768');
}
