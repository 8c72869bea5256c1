import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LightsoutError } from '@lightsout/shared';
import { postForm } from '../http.js';
import { type IssuerMetadata, type TokenSet, oauthError, tokenSetOf } from './device-flow.js';

/**
 * Authorization code + PKCE with a loopback redirect (RFC 8252 §7.3, RFC
 * 7636), for issuers without the device grant: the CLI listens on
 * 127.0.0.1 on a port the system picks, the person signs in in their own
 * browser, and the issuer redirects the browser back to that port with the
 * code. `state` ties the answer to this request (RFC 6749 §10.12); the
 * verifier never leaves this process until the code is redeemed.
 */
export interface LoopbackLogin {
  /** Open this in the browser. */
  authorizationUrl: string;
  redirectUri: string;
  /** Resolves once the browser came back and the code was redeemed. */
  tokens: Promise<TokenSet>;
  /** Stop listening (done by itself after the answer or the timeout). */
  close(): void;
}

const PAGE = (title: string, text: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body style="font:16px system-ui,sans-serif;margin:4rem auto;max-width:32rem"><h1>${title}</h1><p>${text}</p></body></html>`;

export async function startLoopbackLogin(
  metadata: IssuerMetadata,
  client: { clientId: string; scopes: string; audience: string; maxAge?: number },
  options: { timeoutMs?: number } = {},
): Promise<LoopbackLogin> {
  if (metadata.authorizationEndpoint === undefined) {
    throw new LightsoutError('UNAUTHENTICATED', `the issuer ${metadata.issuer} offers neither the device grant nor an authorization endpoint`, { hint: 'enable one of them for the CLI client at the identity provider' });
  }
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = randomBytes(16).toString('base64url');
  let settle: { resolve: (tokens: TokenSet) => void; reject: (error: unknown) => void } | undefined;
  const tokens = new Promise<TokenSet>((resolve, reject) => (settle = { resolve, reject }));
  // Whoever awaits `tokens` sees the failure; an early one (before they await) is not an unhandled rejection.
  tokens.catch(() => undefined);
  let redirectUri = '';
  /** Set by the first answer carrying our state: the only one acted on. */
  let answered = false;

  const server = createServer((request, response) => {
    let url: URL;
    try {
      url = new URL(request.url ?? '/', redirectUri);
    } catch {
      // Any local process or page can send anything here: a malformed request is refused, never fatal.
      response.writeHead(400, { 'content-type': 'text/plain' }).end('bad request');
      return;
    }
    if (request.method !== 'GET' || url.pathname !== '/callback') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const answer = (status: number, title: string, text: string) => response.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(PAGE(title, text));
    // Anything that is not the answer to our own request is ignored, not fatal: another page cannot cancel the login.
    if (url.searchParams.get('state') !== state) {
      answer(400, 'Not this login', 'This answer does not belong to the login the terminal is waiting for.');
      return;
    }
    // One answer, one redemption: a code is single-use (RFC 6749 §4.1.2, §10.5), and a
    // repeated callback (a reload, a replay) must not redeem it again while the first is in flight.
    if (answered) {
      answer(400, 'Already answered', 'This login has already received its answer. Return to the terminal.');
      return;
    }
    answered = true;
    const error = url.searchParams.get('error');
    const code = url.searchParams.get('code');
    if (error !== null || code === null) {
      answer(400, 'Sign-in failed', 'The identity provider did not sign you in. Return to the terminal.');
      finish(new LightsoutError('UNAUTHENTICATED', `the identity provider refused the login (${error ?? 'no code'}${url.searchParams.has('error_description') ? `: ${url.searchParams.get('error_description')}` : ''})`, { hint: 'run `lightsout login` again' }));
      return;
    }
    redeem(code).then(
      (set) => {
        answer(200, 'Signed in', 'You can close this page and return to the terminal.');
        finish(set);
      },
      (failure: unknown) => {
        answer(400, 'Sign-in failed', 'The code could not be redeemed. Return to the terminal.');
        finish(failure);
      },
    );
  });

  async function redeem(code: string): Promise<TokenSet> {
    const { status, body } = await postForm(metadata.tokenEndpoint, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: client.clientId,
      code_verifier: verifier,
      resource: client.audience,
    });
    if (status !== 200) throw oauthError(body, 'the identity provider refused the authorization code');
    return tokenSetOf(body, Math.floor(Date.now() / 1000));
  }

  const timer = setTimeout(() => finish(new LightsoutError('TOKEN_EXPIRED', 'the browser sign-in did not come back in time', { hint: 'run `lightsout login` again' })), options.timeoutMs ?? 5 * 60_000);
  function finish(outcome: TokenSet | unknown): void {
    clearTimeout(timer);
    server.closeAllConnections();
    server.close();
    if (outcome instanceof Error) settle?.reject(outcome);
    else settle?.resolve(outcome as TokenSet);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  const authorizationUrl = new URL(metadata.authorizationEndpoint);
  const parameters: Record<string, string> = {
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: redirectUri,
    scope: client.scopes,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    resource: client.audience,
    ...(client.maxAge === undefined ? {} : { max_age: String(client.maxAge), prompt: 'login' }),
  };
  for (const [name, value] of Object.entries(parameters)) authorizationUrl.searchParams.set(name, value);
  return { authorizationUrl: authorizationUrl.href, redirectUri, tokens, close: () => finish(new LightsoutError('UNAUTHENTICATED', 'login cancelled')) };
}
