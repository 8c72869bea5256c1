import type { WhoAmI } from '@lightsout/shared';
import { RelayApi } from '../api.js';
import { spawn } from 'node:child_process';
import { type IssuerMetadata, type TokenSet, discover, fetchClientConfig, pollDeviceToken, revokeToken, startDeviceAuthorization } from '../auth/device-flow.js';
import { startLoopbackLogin } from '../auth/loopback-flow.js';
import { resolveRelay, staticTokenSource } from '../auth/session.js';
import { readCredentials, removeCredentials, withCredentialsLock, writeCredentials, type StoredSession } from '../config-store.js';
import { json, printable, table } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

/**
 * `lightsout login`: the device authorization grant, or, when the issuer has
 * none, authorization code + PKCE through the system browser and a loopback
 * redirect (RFC 8252 §7.3); then the tokens stored 0600.
 */
export async function login(context: CommandContext, options: { maxAge?: number } = {}): Promise<void> {
  const { output, env } = context;
  const relay = await resolveRelay(context.relayFlag, env);
  const client = await fetchClientConfig(relay);
  const metadata = await discover(client.issuer);
  const request = { clientId: client.cliClientId, scopes: client.scopes, audience: client.audience, ...(options.maxAge === undefined ? {} : { maxAge: options.maxAge }) };
  const tokens = metadata.deviceAuthorizationEndpoint !== undefined ? await deviceLogin(context, relay, metadata, request) : await browserLogin(context, relay, metadata, request);
  const me = await new RelayApi(relay, staticTokenSource(tokens.accessToken)).get<WhoAmI>('/v1/me');
  const session: StoredSession = {
    relay,
    issuer: client.issuer,
    clientId: client.cliClientId,
    audience: client.audience,
    tokenEndpoint: metadata.tokenEndpoint,
    accessToken: tokens.accessToken,
    expiresAt: tokens.expiresAt,
    username: me.username,
  };
  if (tokens.refreshToken !== undefined) session.refreshToken = tokens.refreshToken;
  // Under the lock: a renewal by another run (another relay's session) is not written over.
  await withCredentialsLock(env, async () => {
    const file = await readCredentials(env);
    file.sessions[relay] = session;
    file.current = relay;
    await writeCredentials(env, file);
  });
  output.err(printable(`Logged in to ${relay} as ${me.username} (tenant ${me.tenant}, role ${me.role}).\n`, { newlines: true }));
}

async function deviceLogin(context: CommandContext, relay: string, metadata: IssuerMetadata, request: Parameters<typeof startDeviceAuthorization>[1]): Promise<TokenSet> {
  const authorization = await startDeviceAuthorization(metadata, request);
  context.output.err(printable(`To log in to ${relay}, open\n\n  ${authorization.verificationUriComplete ?? authorization.verificationUri}\n\nand confirm the code  ${authorization.userCode}\n\nWaiting for approval (expires in ${Math.round(authorization.expiresIn / 60)} min) …\n`, { newlines: true }));
  return pollDeviceToken(metadata, { clientId: request.clientId, audience: request.audience }, authorization);
}

async function browserLogin(context: CommandContext, relay: string, metadata: IssuerMetadata, request: Parameters<typeof startLoopbackLogin>[1]): Promise<TokenSet> {
  const login = await startLoopbackLogin(metadata, request);
  context.output.err(printable(`To log in to ${relay}, sign in in your browser (it should open by itself):\n\n  ${login.authorizationUrl}\n\nWaiting for the browser to come back to ${login.redirectUri} …\n`, { newlines: true }));
  openBrowser(login.authorizationUrl, context.env);
  return login.tokens;
}

/** Best effort, like other CLIs: $BROWSER (or `none`), else the platform's opener; the URL is printed either way. */
function openBrowser(url: string, env: NodeJS.ProcessEnv): void {
  const command = env['BROWSER'] ?? (process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open');
  if (command === '' || command === 'none') return;
  const child = spawn(command, [url], { detached: true, stdio: 'ignore' });
  child.on('error', () => undefined);
  child.unref();
}

/** `lightsout logout`: forgets the stored login for the relay (all of them with --all). */
export async function logout(context: CommandContext, options: { all?: boolean }): Promise<void> {
  const { env, output } = context;
  const file = await readCredentials(env);
  if (options.all) {
    for (const session of Object.values(file.sessions)) await revoke(session, output);
    await withCredentialsLock(env, () => removeCredentials(env));
    output.err('Logged out of every relay.\n');
    return;
  }
  const relay = await resolveRelay(context.relayFlag, env);
  const session = file.sessions[relay];
  if (session === undefined) {
    output.err(`Not logged in to ${relay}.\n`);
    return;
  }
  await revoke(session, output);
  await withCredentialsLock(env, async () => {
    // read again: another run may have renewed another relay's session meanwhile
    const current = await readCredentials(env);
    delete current.sessions[relay];
    if (current.current === relay) delete current.current;
    if (Object.keys(current.sessions).length === 0) await removeCredentials(env);
    else await writeCredentials(env, current);
  });
  output.err(`Logged out of ${relay}.\n`);
}

/**
 * Best effort: a relay that is down must not stop anyone from deleting the
 * local copy, so a failed revocation is reported, never fatal.
 */
async function revoke(session: StoredSession, output: CommandContext['output']): Promise<void> {
  if (session.refreshToken === undefined) return;
  try {
    const metadata = await discover(session.issuer);
    if (metadata.revocationEndpoint !== undefined && (await revokeToken(metadata.revocationEndpoint, session.clientId, session.refreshToken))) return;
    output.err(printable(`note: ${session.issuer} did not confirm revoking the refresh token; it expires on its own.\n`, { newlines: true }));
  } catch {
    output.err(printable(`note: could not reach ${session.issuer} to revoke the refresh token; it expires on its own.\n`, { newlines: true }));
  }
}

export async function whoami(context: CommandContext, options: { json?: boolean }): Promise<void> {
  const api = await apiFor(context);
  const me = await api.get<WhoAmI>('/v1/me');
  if (options.json) {
    context.output.out(json(me));
    return;
  }
  const expires = new Date(me.expiresAt * 1000).toISOString();
  context.output.out(table(['USER', 'TENANT', 'ROLE', 'RELAY', 'TOKEN EXPIRES'], [[me.username, me.tenant, me.role, api.relay, expires]]));
}
