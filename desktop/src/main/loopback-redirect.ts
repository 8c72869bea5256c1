import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LightsoutError } from '@lightsout/shared';

/**
 * The native-app redirect receiver of RFC 8252 §7.3: an HTTP listener on the
 * IPv4 loopback address and an ephemeral port, opened for one login. The
 * system browser is redirected to `http://127.0.0.1:{port}/callback?code=…`;
 * the first request on that path carrying `code` or `error` settles the login,
 * anything else is answered 404 and ignored. The listener closes as soon as
 * the login settles or times out.
 */
export interface LoopbackRedirect {
  readonly redirectUri: string;
  /** The full callback URL the browser arrived with. */
  readonly callback: Promise<URL>;
  close(): Promise<void>;
}

const CALLBACK_PATH = '/callback';

const donePage = (message: string) => `<!doctype html><meta charset="utf-8"><title>Lightsout</title>
<body style="font:15px system-ui;margin:4em;color:#222">${message}</body>`;

export async function startLoopbackRedirect(options: { timeoutMs: number }): Promise<LoopbackRedirect> {
  let settle!: { resolve: (url: URL) => void; reject: (error: Error) => void };
  const callback = new Promise<URL>((resolve, reject) => {
    settle = { resolve, reject };
  });
  let settled = false;

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', `http://127.0.0.1`);
    const isCallback = request.method === 'GET' && url.pathname === CALLBACK_PATH && (url.searchParams.has('code') || url.searchParams.has('error'));
    if (!isCallback || settled) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    settled = true;
    const failed = url.searchParams.has('error');
    response
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', connection: 'close' })
      .end(donePage(failed ? 'Login failed. Return to Lightsout for details.' : 'Logged in. You can close this tab and return to Lightsout.'));
    settle.resolve(url);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const timer = setTimeout(() => {
    if (settled) return;
    settled = true;
    settle.reject(new LightsoutError('UNAUTHENTICATED', 'login was not completed in the browser in time', { hint: 'Start the login again and finish it in the browser window that opens.' }));
  }, options.timeoutMs);

  const close = async () => {
    clearTimeout(timer);
    if (!settled) {
      settled = true;
      settle.reject(new LightsoutError('UNAUTHENTICATED', 'login cancelled'));
    }
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  // Whatever the outcome, the listener does not outlive the login.
  callback.then(close, close);

  return { redirectUri: `http://127.0.0.1:${port}${CALLBACK_PATH}`, callback, close };
}
