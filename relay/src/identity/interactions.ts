import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { InteractionDetails } from 'oidc-provider';
import { interactionPagePolicy } from '../plugins/security-headers.js';
import { authenticate, findAccountById } from './accounts.js';
import type { LoginThrottle } from './login-throttle.js';
import { LOOPBACK_HOSTS, MCP_CLIENT_ID, WEB_CLIENT_ID, returnsToOwnConsole } from './provider.js';
import type { SecondFactors } from './second-factor.js';
import { consentPage, loginPage, messagePage } from './pages.js';

const FIRST_PARTY_NAMES: Record<string, string> = { 'lightsout-web': 'the Lightsout console', 'lightsout-cli': 'the Lightsout CLI' };

function clientName(details: InteractionDetails): string {
  return FIRST_PARTY_NAMES[String(details.params.client_id)] ?? String(details.params.client_id);
}

/** The origin this interaction's code or error is sent to (its redirect_uri), if it is an http(s) URL. */
function redirectOrigin(details: InteractionDetails): string | undefined {
  const url = typeof details.params['redirect_uri'] === 'string' ? URL.parse(details.params['redirect_uri']) : null;
  return url !== null && (url.protocol === 'http:' || url.protocol === 'https:') ? url.origin : undefined;
}

/**
 * Who asks, in the consent page's words. A client that registered itself is
 * named by its id, never by the client_name it chose (RFC 7591 §2: its own
 * claim), so it cannot pose as the desktop app.
 */
function requesterName(clientId: string): string {
  if (clientId === WEB_CLIENT_ID) return 'The Lightsout desktop app';
  if (clientId === MCP_CLIENT_ID) return 'An MCP client';
  return `An MCP client that registered itself (${clientId})`;
}

/**
 * Consent to every scope, claim and API resource the request named: the
 * clients are first party or hold to what registrationRefusal allows, so
 * what is asked for is not itemised. Whether the person is asked at all
 * depends on where the code goes (the consent route below).
 */
async function grantConsent(provider: Provider, details: InteractionDetails): Promise<string> {
  const accountId = details.session?.accountId;
  const clientId = String(details.params.client_id);
  const existing = details.grantId === undefined ? undefined : await provider.Grant.find(details.grantId);
  const grant = existing ?? new provider.Grant({ accountId: accountId!, clientId });
  const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  if (missing.missingOIDCScope !== undefined) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims !== undefined) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
  return grant.save();
}

/** The login and consent steps of the embedded OP (`/interaction/:uid`), rendered by the relay. */
export function registerInteractionRoutes(app: FastifyInstance, provider: Provider, throttle: LoginThrottle, secondFactors: SecondFactors): void {
  async function details(request: FastifyRequest, reply: FastifyReply): Promise<InteractionDetails | undefined> {
    try {
      return await provider.interactionDetails(request.raw, reply.raw);
    } catch {
      await reply.status(400).type('text/html; charset=utf-8').send(messagePage('Sign-in expired', 'This sign-in request is no longer valid. Start again from the application.'));
      return undefined;
    }
  }

  // The identity pages' policy with form-action narrowed to the relay and this sign-in's redirect URI origin (security-headers.ts).
  const noStore = (reply: FastifyReply, interaction: InteractionDetails) =>
    reply.header('cache-control', 'no-store').header('x-frame-options', 'DENY').header('content-security-policy', interactionPagePolicy(redirectOrigin(interaction)));

  app.get<{ Params: { uid: string } }>('/interaction/:uid', { config: { permission: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const interaction = await details(request, reply);
    if (interaction === undefined) return reply;
    noStore(reply, interaction);
    if (interaction.prompt.name === 'login') {
      return reply.type('text/html; charset=utf-8').send(
        loginPage({ action: `/interaction/${interaction.uid}/login`, abortAction: `/interaction/${interaction.uid}/abort`, clientName: clientName(interaction) }),
      );
    }
    if (interaction.prompt.name === 'consent') {
      const redirectUri = interaction.params['redirect_uri'];
      // The console coming back to the relay's own origin, and the device flow (the person confirmed the
      // code; there is no redirect), go on without a page. A code for anywhere else waits for a person
      // to press Allow (RFC 8252 §8.6, RFC 9700 §4.1): a GET, which any page can cause, never grants it.
      if (interaction.deviceCode !== undefined || returnsToOwnConsole(app.config.deploymentUrl, interaction.params.client_id, redirectUri)) {
        const grantId = await grantConsent(provider, interaction);
        const returnTo = await provider.interactionResult(request.raw, reply.raw, { consent: { grantId } }, { mergeWithLastSubmission: true });
        return reply.redirect(returnTo, 303);
      }
      const account = interaction.session?.accountId === undefined ? undefined : await findAccountById(app.store, interaction.session.accountId);
      const destination = redirectOrigin(interaction) ?? (typeof redirectUri === 'string' ? redirectUri : 'an address the request did not name');
      return reply.type('text/html; charset=utf-8').send(
        consentPage({
          action: `/interaction/${interaction.uid}/consent`,
          abortAction: `/interaction/${interaction.uid}/abort`,
          clientName: requesterName(String(interaction.params.client_id)),
          username: account?.username ?? 'an unknown account',
          destination,
          local: LOOPBACK_HOSTS.has(URL.parse(destination)?.hostname ?? ''),
        }),
      );
    }
    return reply.status(400).type('text/html; charset=utf-8').send(messagePage('Sign-in failed', `Unsupported step ${interaction.prompt.name}.`));
  });

  app.post<{ Params: { uid: string }; Body: { username?: string; password?: string; otp?: string } }>('/interaction/:uid/login', { config: { permission: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const interaction = await details(request, reply);
    if (interaction === undefined) return reply;
    noStore(reply, interaction);
    const username = typeof request.body?.username === 'string' ? request.body.username.trim().slice(0, 255) : '';
    const password = typeof request.body?.password === 'string' ? request.body.password.slice(0, 1024) : '';
    const otp = typeof request.body?.otp === 'string' ? request.body.otp.trim().slice(0, 16) : '';
    const formAgain = (error: string) => loginPage({ action: `/interaction/${interaction.uid}/login`, abortAction: `/interaction/${interaction.uid}/abort`, clientName: clientName(interaction), username, error });
    // One attempt at a time per account and address: each reads the failures the one before it counted.
    const endTurn = await throttle.turn(username, request.ip);
    try {
      // Guessing is slowed before any password is checked (login-throttle.ts).
      const verdict = await throttle.check(username, request.ip);
      if (!verdict.allowed) {
        await app.audit.fromRequest(request, { action: 'login', outcome: 'denied', target: `user:${username}`, details: { client: interaction.params.client_id, reason: 'throttled', retryAfterSeconds: verdict.retryAfterSeconds } });
        return reply
          .status(429)
          .header('retry-after', String(verdict.retryAfterSeconds))
          .type('text/html; charset=utf-8')
          .send(formAgain(`Too many failed sign-ins. Try again in ${verdict.retryAfterSeconds} s.`));
      }
      // An account guessed from many addresses is slowed for everyone, refused for no one.
      if (verdict.delayMs > 0) await delay(verdict.delayMs);
      const account = username === '' || password === '' ? undefined : await authenticate(app.store, username, password);
      // Second factor (RFC 6238): an account with an active TOTP secret needs a valid, unused code in the same form.
      let secondFactor = false;
      if (account !== undefined) {
        if ((await secondFactors.state(account.id)).active) {
          if (!(await secondFactors.accept(account.id, otp))) {
            await throttle.failed(username, request.ip);
            await app.audit.fromRequest(request, { action: 'login', outcome: 'failure', subject: account.id, tenant: account.tenant, target: `user:${username}`, details: { client: interaction.params.client_id, reason: otp === '' ? 'otp-missing' : 'otp-wrong' } });
            return reply
              .status(401)
              .type('text/html; charset=utf-8')
              .send(formAgain(otp === '' ? 'Enter the one-time code from your authenticator app.' : 'Wrong one-time code.'));
          }
          secondFactor = true;
        }
      }
      if (account === undefined) {
        await throttle.failed(username, request.ip);
        await app.audit.fromRequest(request, { action: 'login', outcome: 'failure', target: `user:${username}`, details: { client: interaction.params.client_id } });
        return reply.status(401).type('text/html; charset=utf-8').send(formAgain('Wrong username or password.'));
      }
      await throttle.succeeded(username, request.ip);
      const amr = secondFactor ? ['pwd', 'otp', 'mfa'] : ['pwd'];
      await app.audit.fromRequest(request, { action: 'login', outcome: 'success', subject: account.id, tenant: account.tenant, target: `user:${account.username}`, details: { client: interaction.params.client_id, amr } });
      const returnTo = await provider.interactionResult(request.raw, reply.raw, { login: { accountId: account.id, amr, ...(secondFactor ? { acr: 'mfa' } : {}) } }, { mergeWithLastSubmission: false });
      return reply.redirect(returnTo, 303);
    } finally {
      endTurn();
    }
  });

  /**
   * Allow on the consent page. Only a POST from a browser that holds this
   * interaction's cookie gets here: oidc-provider checks it against the uid
   * (interactionDetails), and it is SameSite=Lax, so a form another site
   * submits does not carry it.
   */
  app.post<{ Params: { uid: string } }>('/interaction/:uid/consent', { config: { permission: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const interaction = await details(request, reply);
    if (interaction === undefined) return reply;
    if (interaction.prompt.name !== 'consent' || interaction.session?.accountId === undefined) {
      return reply.status(400).type('text/html; charset=utf-8').send(messagePage('Sign-in failed', 'There is nothing to allow at this step. Start again from the application.'));
    }
    const grantId = await grantConsent(provider, interaction);
    const account = await findAccountById(app.store, interaction.session.accountId);
    await app.audit.fromRequest(request, {
      action: 'oauth.consent',
      outcome: 'success',
      subject: interaction.session.accountId,
      ...(account === undefined ? {} : { tenant: account.tenant, target: `user:${account.username}` }),
      details: { client: interaction.params.client_id, redirectUri: interaction.params['redirect_uri'] },
    });
    const returnTo = await provider.interactionResult(request.raw, reply.raw, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return reply.redirect(returnTo, 303);
  });

  app.post<{ Params: { uid: string } }>('/interaction/:uid/abort', { config: { permission: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const interaction = await details(request, reply);
    if (interaction === undefined) return reply;
    const returnTo = await provider.interactionResult(request.raw, reply.raw, { error: 'access_denied', error_description: 'the user cancelled the sign-in' }, { mergeWithLastSubmission: false });
    return reply.redirect(returnTo, 303);
  });
}
