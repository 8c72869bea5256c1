import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { InteractionDetails } from 'oidc-provider';
import { authenticate } from './accounts.js';
import type { LoginThrottle } from './login-throttle.js';
import type { SecondFactors } from './second-factor.js';
import { loginPage, messagePage } from './pages.js';

const FIRST_PARTY_NAMES: Record<string, string> = { 'lightsout-web': 'the Lightsout console', 'lightsout-cli': 'the Lightsout CLI' };

function clientName(details: InteractionDetails): string {
  return FIRST_PARTY_NAMES[String(details.params.client_id)] ?? String(details.params.client_id);
}

/**
 * Both clients are first party, so consent is granted without asking: every
 * scope, claim and the API resource the request named.
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

  const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store').header('x-frame-options', 'DENY').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");

  app.get<{ Params: { uid: string } }>('/interaction/:uid', { config: { permission: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const interaction = await details(request, reply);
    if (interaction === undefined) return reply;
    noStore(reply);
    if (interaction.prompt.name === 'login') {
      return reply.type('text/html; charset=utf-8').send(
        loginPage({ action: `/interaction/${interaction.uid}/login`, abortAction: `/interaction/${interaction.uid}/abort`, clientName: clientName(interaction) }),
      );
    }
    if (interaction.prompt.name === 'consent') {
      const grantId = await grantConsent(provider, interaction);
      const returnTo = await provider.interactionResult(request.raw, reply.raw, { consent: { grantId } }, { mergeWithLastSubmission: true });
      return reply.redirect(returnTo, 303);
    }
    return reply.status(400).type('text/html; charset=utf-8').send(messagePage('Sign-in failed', `Unsupported step ${interaction.prompt.name}.`));
  });

  app.post<{ Params: { uid: string }; Body: { username?: string; password?: string; otp?: string } }>('/interaction/:uid/login', { config: { permission: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const interaction = await details(request, reply);
    if (interaction === undefined) return reply;
    noStore(reply);
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

  app.post<{ Params: { uid: string } }>('/interaction/:uid/abort', { config: { permission: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const interaction = await details(request, reply);
    if (interaction === undefined) return reply;
    const returnTo = await provider.interactionResult(request.raw, reply.raw, { error: 'access_denied', error_description: 'the user cancelled the sign-in' }, { mergeWithLastSubmission: false });
    return reply.redirect(returnTo, 303);
  });
}
