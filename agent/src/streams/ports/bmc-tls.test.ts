import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { ServerEntry } from '../../config/types.js';
import { bmcTlsFixture } from '../../testing/bmc-tls-certificates.js';
import { createPortOpener } from './open.js';

/**
 * The BMC's console WebSocket over TLS (`wss://…/console0`, bmcweb-style, a
 * self-signed certificate) is trusted the way its Redfish service is: on
 * first use, recorded per server, or by a pinned fingerprint. A changed
 * certificate is refused at the handshake, before the upgrade request with
 * its Basic credentials is sent.
 */
const tls = bmcTlsFixture('console-tls-');
const { certificates, cleanups } = tls;

/** A console WebSocket on HTTPS that greets with a banner and records the upgrade requests it saw. */
async function consoleBmc(index: number): Promise<{ url: string; authorizations: (string | undefined)[] }> {
  const https: Server = createServer({ key: certificates[index]!.key, cert: certificates[index]!.cert });
  const authorizations: (string | undefined)[] = [];
  const wss = new WebSocketServer({ server: https, path: '/console0' });
  wss.on('headers', (_headers, request) => authorizations.push(request.headers.authorization));
  wss.on('connection', (socket) => socket.send(Buffer.from('login: ')));
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        https.close(() => resolve());
      }),
  );
  return { url: `wss://127.0.0.1:${(https.address() as { port: number }).port}/console0`, authorizations };
}

function server(url: string, tls?: NonNullable<ServerEntry['redfish']>['tls']): ServerEntry {
  return {
    id: 'web-01',
    name: 'web-01',
    tenant: 'acme',
    rack: 'r1',
    labels: {},
    serial: { url, credentials: { username: 'admin', password: 'secret' } },
    ...(tls ? { redfish: { url: 'https://127.0.0.1/', credentials: { username: 'admin', password: 'secret' }, tls, quirks: [] } } : {}),
  };
}

async function openConsole(entry: ServerEntry, trustDirectory: string): Promise<string> {
  let received = '';
  let resolveData: () => void = () => {};
  const data = new Promise<void>((resolve) => (resolveData = resolve));
  const port = await createPortOpener(undefined, trustDirectory)(entry, 'serial', {
    data: (bytes) => {
      received += Buffer.from(bytes).toString();
      resolveData();
    },
    drain: () => {},
    close: () => {},
  });
  port.resume();
  await data;
  port.close();
  return received;
}

describe('console WebSocket TLS trust', () => {
  it('records the certificate on first use, and refuses a changed one before sending credentials', async () => {
    const trustDirectory = join(tls.directory, 'trust-tofu');
    const first = await consoleBmc(0);
    expect(await openConsole(server(first.url), trustDirectory)).toBe('login: ');
    expect(first.authorizations).toEqual([`Basic ${Buffer.from('admin:secret').toString('base64')}`]);
    expect(readFileSync(join(trustDirectory, 'web-01.sha256'), 'utf8').trim()).toBe(certificates[0]!.fingerprint);

    const rekeyed = await consoleBmc(1);
    const failure = await openConsole(server(rekeyed.url), trustDirectory).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'BMC_CERT_MISMATCH', details: { expected: certificates[0]!.fingerprint, actual: certificates[1]!.fingerprint } });
    expect(rekeyed.authorizations).toEqual([]);
  });

  it("checks the fingerprint pinned in the server's Redfish TLS settings", async () => {
    const bmc = await consoleBmc(1);
    const pinned = (fingerprint: string) => server(bmc.url, { insecure: false, fingerprint256: fingerprint });
    expect(await openConsole(pinned(certificates[1]!.fingerprint), join(tls.directory, 'trust-pin'))).toBe('login: ');
    const failure = await openConsole(pinned(certificates[0]!.fingerprint), join(tls.directory, 'trust-pin')).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'BMC_CERT_MISMATCH' });
    expect(bmc.authorizations).toHaveLength(1);
  });
});
