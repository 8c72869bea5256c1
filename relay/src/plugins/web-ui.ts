import type { AddressInfo } from 'node:net';
import { nodeSetTimer, nodeStreamSocket } from '@lightsout/cli/node';
import { type BmcEndpoints, LightsoutError, type SessionCreate, type SessionCreated, type StreamTokenClaims } from '@lightsout/shared';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Principal } from '../identity/verifier.js';
import { type WebOrigins, newWebSessionId, originOf } from '../web-ui/origin.js';
import { LAUNCH_PATH, WebUiProxy } from '../web-ui/proxy.js';
import { grantOf, spendConnectToken } from './streams/tokens.js';
import { loopbackHost } from './ssh.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The BMCs' web UIs (session kind `web`), when this relay serves them (config `webUi`). */
    webUi: { open(caller: Principal, serverId: string, body: SessionCreate): Promise<SessionCreated>; port(): number | undefined };
  }
}

/**
 * The BMC's own web UI through the agent (docs/security.md, "The BMC's web
 * UI"): `POST /v1/servers/{id}/sessions {kind: "web"}` answers a one-time
 * launch URL on the session's own origin, and a listener of its own serves
 * those origins (relay/src/web-ui/proxy.ts). Each HTTP connection the
 * browser opens there is one stream of kind `web` through this relay's
 * stream plane, so permissions, tenant scope, revocation and tenant moves
 * apply to it exactly as to a console.
 */
async function webUiPlugin(app: FastifyInstance): Promise<void> {
  const settings = app.config.webUi;
  if (settings?.domain === undefined) return;
  const domain = settings.domain;
  let proxy: WebUiProxy | undefined;
  // Where sessions are served. A manager serves none but opens them (the REST call goes to the deployment URL),
  // so it names the gateways' public origin from the config; a listening replica learns its port first.
  const servesHere = settings.port !== undefined && app.config.role !== 'manager';
  const fixedPort = settings.publicPort ?? (settings.scheme === 'https' ? 443 : undefined);
  let origins: WebOrigins | undefined = !servesHere && fixedPort !== undefined ? { scheme: settings.scheme, domain, port: fixedPort } : undefined;

  /** Where the BMC's web UI is: its origin as the agent reported it (addresses travel upstream, credentials never). */
  async function bmcOriginOf(serverId: string): Promise<string> {
    const row = await app.store.selectFrom('servers').select('endpoints').where('id', '=', serverId).executeTakeFirst();
    const web = row === undefined ? undefined : (JSON.parse(row.endpoints) as BmcEndpoints).web;
    if (web === undefined) throw new LightsoutError('BMC_UNSUPPORTED', `server ${serverId} has no web UI endpoint`);
    return new URL(web).origin;
  }

  async function open(caller: Principal, serverId: string, body: SessionCreate): Promise<SessionCreated> {
    if (origins === undefined && !servesHere) throw new LightsoutError('CONFIG_INVALID', 'webUi.publicPort is needed to name the sessions\' origin served over http by the gateways');
    if (origins === undefined) throw new LightsoutError('CONFLICT', 'the web UI listener is not up yet', { hint: 'try again in a moment' });
    if (body.mode === 'view') throw new LightsoutError('BAD_REQUEST', "a BMC's web UI has no read-only mode", { hint: 'ask for mode "control" (a viewer role cannot open it)' });
    if (body.takeover === true) throw new LightsoutError('BAD_REQUEST', 'takeover applies to SOL consoles only, not web');
    const server = await app.streams.findServer(serverId);
    // Another tenant's server is answered exactly like a missing one; provider admins see every tenant.
    if (!server || (server.tenant !== caller.tenant && caller.role !== 'provider-admin')) throw new LightsoutError('NOT_FOUND', `no server ${serverId}`);
    if (!server.capabilities.includes('web')) throw new LightsoutError('BMC_UNSUPPORTED', `server ${server.id} has no web UI`, { hint: 'add web: {url: https://…} to the server in the agent configuration' });
    const now = Math.floor(Date.now() / 1000);
    // The web session ends with the user's session (the identity provider's session lasts refreshTokenTtlSeconds from sign-in), and within maxSessionSeconds.
    const userSessionEnd = caller.authTime === undefined ? now + settings.maxSessionSeconds : caller.authTime + app.config.identity.refreshTokenTtlSeconds;
    const webSessionEnd = Math.min(now + settings.maxSessionSeconds, userSessionEnd);
    if (webSessionEnd <= now) throw new LightsoutError('TOKEN_EXPIRED', 'your session has ended', { hint: 'sign in again' });
    const sessionId = newWebSessionId();
    const grant = { sessionId, serverId: server.id, tenant: server.tenant, kind: 'web' as const, mode: 'control' as const, agentId: server.agentId, subject: caller.subject, user: caller.username, webSessionEnd };
    const { token, expiresAt } = await app.streams.tokens.issueWeb(grant, 'web-launch');
    const origin = originOf(origins, sessionId);
    return {
      sessionId,
      streamUrl: origin,
      token,
      expiresAt: new Date(expiresAt * 1000).toISOString(),
      serverId: server.id,
      kind: 'web',
      mode: 'control',
      webUrl: `${origin}${LAUNCH_PATH}?token=${encodeURIComponent(token)}`,
    };
  }

  app.decorate('webUi', { open, port: () => proxy?.server.listening === true ? (proxy.server.address() as AddressInfo).port : undefined });

  const audit = (claims: StreamTokenClaims, action: 'session.launch' | 'session.close', extra: { sourceIp?: string; reason?: string }): void => {
    void app.audit
      .append({ action, outcome: 'success', subject: claims.sub, tenant: claims.ten, target: `server:${claims.srv}`, ...(extra.sourceIp === undefined ? {} : { sourceIp: extra.sourceIp }), details: { kind: 'web', webSession: claims.sid, user: claims.usr, ...(extra.reason === undefined ? {} : { reason: extra.reason }) } })
      .catch((error: unknown) => app.log.error({ err: error, webSession: claims.sid }, `could not audit ${action}`));
  };

  if (!servesHere) return;
  app.addHook('onListen', async () => {
    const instance = new WebUiProxy({
      // Filled in below, once the port is known (the proxy reads it per request).
      origins: { scheme: settings.scheme, domain, port: 0 },
      verify: (token, sessionId, use) => app.streams.tokens.verifyWeb(token, sessionId, use),
      spendLaunch: (claims) => spendConnectToken(app.singleUse, claims),
      issueCookie: async (claims) => (await app.streams.tokens.issueWeb(grantOf(claims), 'web', claims.wxp ?? claims.exp)).token,
      checkAccess: (claims) => app.streams.checkClaims(claims),
      bmcOriginOf,
      openStream: async (claims) => {
        const leg = await app.streams.issueLeg(claims);
        if (!leg.connectedHere) return leg;
        // Its agent's gateway is this relay: reached over loopback, not through the public URL.
        const address = app.server.address() as AddressInfo;
        return { token: leg.token, streamUrl: `ws://${loopbackHost(address)}:${address.port}${new URL(leg.streamUrl).pathname}` };
      },
      socket: nodeStreamSocket(),
      setTimer: nodeSetTimer,
      log: app.log,
      // session.open is the REST call's (the access hook); these say when a browser took it up and when it ended.
      onLaunched: (claims, sourceIp) => audit(claims, 'session.launch', { ...(sourceIp === undefined ? {} : { sourceIp }) }),
      onEnded: (claims, reason) => audit(claims, 'session.close', { reason }),
    });
    const port = await instance.listen(settings.port!, settings.host);
    origins = { scheme: settings.scheme, domain, port: settings.publicPort ?? (settings.scheme === 'https' ? 443 : port) };
    Object.assign(instance.options.origins, origins);
    proxy = instance;
    app.log.info({ host: settings.host, port, origin: originOf(origins, '*') }, 'BMC web UI proxy listening');
  });
  app.addHook('preClose', async () => proxy?.close());
}

export default fp(webUiPlugin, { name: 'lightsout-web-ui', dependencies: ['lightsout-config', 'lightsout-streams'] });
