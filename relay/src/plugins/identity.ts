import { ClientConfig, ErrorBodySchema, LightsoutError, PasswordChange, WhoAmI } from '@lightsout/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import Type from 'typebox';
import { apiTokenPrincipal, isApiToken } from '../access/api-tokens.js';
import { Counter, Gauge } from 'prom-client';
import { ensureTenant, seedDemo } from '../identity/accounts.js';
import { IssuerKeys } from '../identity/issuer-keys.js';
import { registerInteractionRoutes } from '../identity/interactions.js';
import { StoreFailureCounts } from '../identity/failure-counts.js';
import { LoginThrottle } from '../identity/login-throttle.js';
import { SecondFactors, TotpSealer } from '../identity/second-factor.js';
import { loadOrCreateProviderSecrets, publicJwks, storeProviderKeys } from '../identity/keys.js';
import { pruneExpiredOidcPayloads, registeredClientCount, revokeAccountArtefacts } from '../identity/oidc-adapter.js';
import { RegistrationWindow, isRegistrationPath } from '../identity/client-registration.js';
import { requireStrongPassword } from '../identity/password-policy.js';
import { hashPassword } from '../identity/passwords.js';
import { passwordMatches } from '../identity/accounts.js';
import { principalFor } from '../identity/principal.js';
import { CLI_CLIENT_ID, CLIENT_SCOPES, WEB_CLIENT_ID, createProvider, mcpAudienceOf } from '../identity/provider.js';
import { type Principal, type TokenVerifier, createTokenVerifier } from '../identity/verifier.js';

declare module 'fastify' {
  interface FastifyInstance {
    identity: {
      verifier: TokenVerifier;
      /**
       * Verify a bearer token and map it to a principal; throws LightsoutError. `resource` is the
       * resource server asking: the API (REST, RPC, streams) accepts the API audience only, the MCP
       * endpoint its own too (a self-registered MCP client's tokens, identity/provider.ts).
       */
      principalFromToken(token: string, resource?: TokenResource): Promise<Principal>;
      /** Embedded mode: users' TOTP factors, sealed at rest. */
      secondFactors: SecondFactors | undefined;
      /** The sign-in form's guessing throttle; password re-entry elsewhere counts against it too. */
      throttle: LoginThrottle;
      /**
       * After a password change or a disable: every refresh token, OP session and grant of
       * the user is deleted (their access tokens die with the grants) and live connections
       * hear a revocation.
       */
      endSignIns(userId: string, reason: string): Promise<void>;
      /** External mode: the issuer's keys and discovery, refreshed in the background. */
      issuerKeys: IssuerKeys | undefined;
      /** Origins the web console must reach besides its own (the external issuer's discovery, token and revocation endpoints). */
      issuerOrigins(): string[];
    };
  }
}

/** Which of the relay's resource servers a token is presented to (RFC 8707 resources). */
export type TokenResource = 'api' | 'mcp';

export interface IdentityPluginOptions {
  /** Receives the seeded credentials text once (server.ts shows it); `containsPasswords` when it holds generated ones. */
  printSeededCredentials?: ((text: string, containsPasswords: boolean) => void) | undefined;
  /** Fixed password for the seeded users (LIGHTSOUT_DEMO_PASSWORD). */
  demoPassword?: string | undefined;
}

export function bearerToken(header: string | undefined): string {
  if (header === undefined) throw new LightsoutError('UNAUTHENTICATED', 'no access token', { hint: 'log in first (lightsout login)' });
  const match = /^Bearer ([A-Za-z0-9._~+/=-]{1,8192})$/i.exec(header);
  if (match === null) throw new LightsoutError('TOKEN_INVALID', 'Authorization header is not "Bearer <token>"');
  return match[1]!;
}

/** What a first start tells the operator; the passwords only when they were generated here (else the caller chose them). */
function seededText(credentials: NonNullable<Awaited<ReturnType<typeof seedDemo>>>, publicUrl: string, passwordsGiven: boolean): string {
  const password = (value: string) => (passwordsGiven ? '(the password in LIGHTSOUT_DEMO_PASSWORD)' : value);
  return [
    '',
    '  Lightsout relay: first start, demo accounts created (shown once):',
    `    ${credentials.admin.username.padEnd(9)} ${password(credentials.admin.password)}   provider-admin, tenant ${credentials.admin.tenant}`,
    `    ${credentials.operator.username.padEnd(9)} ${password(credentials.operator.password)}   operator, tenant ${credentials.operator.tenant}`,
    `  Sign in at ${publicUrl}/ or with: lightsout login --relay ${publicUrl}`,
    '',
    '',
  ].join('\n');
}

async function identityPlugin(app: FastifyInstance, options: IdentityPluginOptions): Promise<void> {
  const { config } = app;
  let verifier: TokenVerifier;
  /** The MCP endpoint's: the API audience, and in embedded mode the endpoint's own (mcpAudienceOf). */
  let mcpVerifier: TokenVerifier;
  let clientIds = { web: WEB_CLIENT_ID, cli: CLI_CLIENT_ID };
  let secondFactors: SecondFactors | undefined;
  // Failure counts in the store: a guesser spreading attempts over the replicas meets one count.
  const failureCounts = new StoreFailureCounts(app.store);
  const throttle = new LoginThrottle(failureCounts);
  const pruneFailures = setInterval(
    () => void failureCounts.prune(Date.now(), throttle.forgetMs).catch((error: unknown) => app.log.warn({ err: error }, 'sign-in failure prune failed')),
    60_000,
  );
  pruneFailures.unref();
  app.addHook('onClose', async () => clearInterval(pruneFailures));
  let issuerKeys: IssuerKeys | undefined;

  if (config.identity.mode === 'embedded' && config.role === 'gateway') {
    // A gateway runs no OpenID Provider: sign-in, refresh and sign-out happen at the deployment URL (the issuer is
    // `${deploymentUrl}/oidc` on every replica). Its tokens are verified here by signature alone, with the deployment's
    // keys read from the store (docs/deployment.md).
    const providerKeys = await storeProviderKeys(app.keyDocuments);
    verifier = createTokenVerifier({ issuer: config.identity.issuer, audience: config.identity.audience, keys: providerKeys, types: ['at+jwt'], maxLifetimeSeconds: config.identity.accessTokenTtlSeconds });
    mcpVerifier = createTokenVerifier({ issuer: config.identity.issuer, audience: [config.identity.audience, mcpAudienceOf(config.deploymentUrl)], keys: providerKeys, types: ['at+jwt'], maxLifetimeSeconds: config.identity.accessTokenTtlSeconds });
    refuseSignIn(app);
    // Step-up codes are still checked here (the REST API's MFA routes); the at-rest key is the managers' (identity.totpKeyFile).
    secondFactors = new SecondFactors(app.store, new TotpSealer(app.atRestKey), config.store.driver);
  } else if (config.identity.mode === 'embedded') {
    // In the store, so every replica issues and accepts the same tokens; a dataDir file from before is imported once.
    const secrets = await loadOrCreateProviderSecrets(app.keyDocuments, config.dataDir);
    const provider = createProvider({ config, store: app.store, secrets, log: app.log });
    // Nothing this OP issues lives longer than accessTokenTtlSeconds, so nothing longer is ours.
    verifier = createTokenVerifier({ issuer: config.identity.issuer, audience: config.identity.audience, keys: publicJwks(secrets), types: ['at+jwt'], maxLifetimeSeconds: config.identity.accessTokenTtlSeconds });
    mcpVerifier = createTokenVerifier({ issuer: config.identity.issuer, audience: [config.identity.audience, mcpAudienceOf(config.deploymentUrl)], keys: publicJwks(secrets), types: ['at+jwt'], maxLifetimeSeconds: config.identity.accessTokenTtlSeconds });
    await pruneExpiredOidcPayloads(app.store);
    const prune = setInterval(() => void pruneExpiredOidcPayloads(app.store).catch((error: unknown) => app.log.warn({ err: error }, 'oidc prune failed')), 10 * 60_000);
    prune.unref();
    app.addHook('onClose', async () => clearInterval(prune));

    const callback = provider.callback();
    // Dynamic client registration (identity/provider.ts): every outcome audited, refusals with the OP's reason.
    const registrationAudit = (outcome: 'success' | 'failure', context: unknown, details: Record<string, unknown>) => {
      const request = (context as { req?: { socket?: { remoteAddress?: string } } } | undefined)?.req;
      void app.audit.append({ action: 'oauth.client.register', outcome, subject: null, tenant: null, sourceIp: request?.socket?.remoteAddress ?? null, details }).catch((error: unknown) => app.log.warn({ err: error }, 'audit of a client registration failed'));
    };
    provider.on('registration_create.success', (context, client) => {
      const registered = client as { clientId: string; clientName?: string; redirectUris?: string[] };
      registrationAudit('success', context, { clientId: registered.clientId, clientName: registered.clientName ?? null, redirectUris: registered.redirectUris ?? [] });
    });
    provider.on('registration_create.error', (context, error) => {
      const refused = error as { error?: string; error_description?: string };
      registrationAudit('failure', context, { error: refused.error ?? 'server_error', reason: refused.error_description ?? null });
    });
    const registrations = new RegistrationWindow(config.identity.mcpClientRegistration.perHourPerAddress);
    const refuseRegistration = (request: FastifyRequest, reply: FastifyReply, reason: string, description: string) => {
      void app.audit.append({ action: 'oauth.client.register', outcome: 'denied', subject: null, tenant: null, sourceIp: request.ip, details: { reason } }).catch(() => undefined);
      return reply.status(429).header('retry-after', '3600').send({ error: 'rate_limited', error_description: description });
    };
    // oidc-provider reads its own request bodies, so this scope leaves the stream unread.
    await app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
      scope.all('/oidc/*', { config: { permission: 'public' }, schema: { hide: true } }, async (request, reply) => {
        // Registration is open to anyone (RFC 7591 without an initial access token): bounded per address and in all (client-registration.ts).
        if (request.method === 'POST' && isRegistrationPath(request.url)) {
          if (!registrations.admit(request.ip)) return refuseRegistration(request, reply, 'rate limited', 'too many client registrations from this address; try again later');
          if ((await registeredClientCount(app.store)) >= config.identity.mcpClientRegistration.maxClients) {
            return refuseRegistration(request, reply, 'client limit reached', 'this relay keeps no more registered clients now; an unused registration is deleted a day after it was made — try again later, or use the pre-registered client lightsout-mcp');
          }
        }
        reply.hijack();
        const raw = request.raw as typeof request.raw & { originalUrl?: string };
        raw.originalUrl = raw.url;
        raw.url = raw.url!.slice('/oidc'.length) || '/';
        callback(raw, reply.raw);
      });
    });
    secondFactors = new SecondFactors(app.store, new TotpSealer(app.atRestKey), config.store.driver);
    const sealed = await secondFactors.sealClearSecrets();
    if (sealed > 0) app.log.info({ sealed }, 'sealed TOTP secrets stored in clear by an earlier version');
    registerInteractionRoutes(app, provider, throttle, secondFactors);

    if (config.identity.seedDemo) {
      const seeded = await seedDemo(app.store, options.demoPassword);
      if (seeded !== undefined) options.printSeededCredentials?.(seededText(seeded, config.publicUrl, options.demoPassword !== undefined), options.demoPassword === undefined);
    }
  } else {
    const external = config.identity.external!;
    issuerKeys = await startIssuerKeys(app);
    verifier = createTokenVerifier({ issuer: external.issuer, audience: config.identity.audience, keys: issuerKeys.getKey, types: external.accessTokenTypes, maxLifetimeSeconds: external.maxAccessTokenLifetimeSeconds });
    // The external issuer's tokens are for the API's audience; the MCP endpoint is one more client of it.
    mcpVerifier = verifier;
    clientIds = { web: external.clientId, cli: external.cliClientId };
    // Identities live at the issuer; the one thing a fresh store needs is the tenant its first provider admin belongs to.
    await ensureTenant(app.store, external.providerTenant, 'Provider');
  }

  const keys = issuerKeys;
  const identity = {
    verifier,
    secondFactors,
    throttle,
    async endSignIns(userId: string, reason: string) {
      if (config.identity.mode === 'embedded') await revokeAccountArtefacts(app.store, userId);
      await app.revocations.revoke(userId, reason);
    },
    issuerKeys: keys,
    issuerOrigins(): string[] {
      if (keys === undefined) return [];
      const discovery = keys.discovery();
      const external = config.identity.external!;
      const origins = new Set<string>();
      for (const url of [external.issuer, external.discoveryUrl, discovery?.token_endpoint, discovery?.revocation_endpoint]) {
        const origin = url === undefined ? undefined : URL.parse(url)?.origin;
        if (origin !== undefined && origin !== 'null') origins.add(origin);
      }
      origins.delete(new URL(config.publicUrl).origin);
      return [...origins];
    },
    async principalFromToken(token: string, resource: TokenResource = 'api') {
      // Service-account API tokens (lso_…) are ours, not the issuer's: looked up by hash.
      if (isApiToken(token)) return apiTokenPrincipal(app.store, token);
      return principalFor(await (resource === 'mcp' ? mcpVerifier : verifier).verify(token), config, app.store);
    },
  };
  app.decorate('identity', identity);

  const errors = { 401: ErrorBodySchema, 403: ErrorBodySchema };
  app.get('/v1/me', { config: { permission: 'profile.read' }, schema: { tags: ['identity'], security: [{ bearer: [] }], response: { 200: WhoAmI, ...errors } } }, async (request) => {
    const principal = request.principal!;
    return { subject: principal.subject, username: principal.username, tenant: principal.tenant, role: principal.role, issuer: principal.issuer, expiresAt: principal.expiresAt };
  });
  // Typed by its generic, not the provider: the provider would type the 204's send() as needing the schema's null body.
  app.post<{ Body: PasswordChange }>('/v1/me/password', { config: { permission: 'account.manage-own' }, schema: { tags: ['identity'], security: [{ bearer: [] }], body: PasswordChange, response: { 204: Type.Null(), ...errors, 400: ErrorBodySchema, 429: ErrorBodySchema } } }, async (request, reply) => {
    const principal = request.principal!;
    // API tokens are refused by the permission (people only); an external issuer owns its users' passwords.
    if (config.identity.mode !== 'embedded') {
      throw new LightsoutError('FORBIDDEN', 'only people signed in through the embedded identity provider have a password here');
    }
    const { body } = request;
    const denied = async (reason: string) => app.audit.fromRequest(request, { action: 'user.password', outcome: 'denied', subject: principal.subject, tenant: principal.tenant, target: `user:${principal.username}`, details: { reason } });
    // The current password is a guess like any other: the sign-in form's throttle counts it.
    const verdict = await throttle.check(principal.username, request.ip);
    if (!verdict.allowed) {
      await denied('throttled');
      throw new LightsoutError('RATE_LIMITED', 'too many wrong passwords', { details: { retryAfterSeconds: verdict.retryAfterSeconds } });
    }
    if (!(await passwordMatches(app.store, principal.subject, body.currentPassword))) {
      await throttle.failed(principal.username, request.ip);
      await denied('password-wrong');
      throw new LightsoutError('FORBIDDEN', 'the current password is wrong');
    }
    requireStrongPassword(body.newPassword, { username: principal.username, tenant: principal.tenant });
    await app.store.updateTable('users').set({ password_hash: await hashPassword(body.newPassword), credentials_changed_at: Date.now() }).where('id', '=', principal.subject).execute();
    await identity.endSignIns(principal.subject, 'password changed');
    await app.audit.fromRequest(request, { action: 'user.password', outcome: 'success', subject: principal.subject, tenant: principal.tenant, target: `user:${principal.username}` });
    return reply.status(204).send();
  });
  app.get('/v1/client-config', { config: { permission: 'public' }, schema: { tags: ['identity'], response: { 200: ClientConfig } } }, async () => ({
    issuer: config.identity.issuer,
    clientId: clientIds.web,
    cliClientId: clientIds.cli,
    scopes: CLIENT_SCOPES,
    audience: config.identity.audience,
  }));
}

/** The embedded OP's paths: its endpoints (`/oidc/…`) and its sign-in pages (`/interaction/…`). */
const SIGN_IN_PATHS = /^\/(oidc|interaction)(\/|\?|$)/;

/**
 * A gateway answers the OP's paths with NOT_FOUND and where to go instead,
 * before any body is read: a client sent here by mistake learns the
 * deployment URL, and nothing on a gateway can mint a token.
 */
function refuseSignIn(app: FastifyInstance): void {
  const { deploymentUrl, identity } = app.config;
  app.addHook('onRequest', async (request) => {
    if (SIGN_IN_PATHS.test(request.url)) {
      throw new LightsoutError('NOT_FOUND', 'this replica is a gateway: it runs no identity provider', { hint: `sign in at ${deploymentUrl} (the issuer is ${identity.issuer})`, details: { issuer: identity.issuer } });
    }
  });
}

/** The external issuer's keys, with their refreshes counted, timed and logged. */
async function startIssuerKeys(app: FastifyInstance): Promise<IssuerKeys> {
  const external = app.config.identity.external!;
  const registers = [app.metrics.registry];
  const reachable = new Gauge({ name: 'lightsout_issuer_reachable', help: 'The external issuer answered the last discovery/JWKS refresh (1) or not (0)', registers });
  const failures = new Counter({ name: 'lightsout_issuer_refresh_failures_total', help: 'Failed discovery/JWKS refreshes of the external issuer', registers });
  const keys: IssuerKeys = new IssuerKeys({
    issuer: external.issuer,
    discoveryUrl: external.discoveryUrl,
    refreshMs: external.keysRefreshSeconds * 1000,
    onAttempt(outcome) {
      reachable.set(outcome.ok ? 1 : 0);
      if (outcome.ok) return;
      failures.inc();
      const { keysKnown } = keys.status();
      app.log.warn(
        { err: outcome.error, url: outcome.url, issuer: external.issuer },
        keysKnown ? 'external issuer unreachable; verifying with the last known keys' : 'external issuer unreachable and no keys known yet; tokens are refused with ISSUER_UNAVAILABLE until it answers',
      );
    },
  });
  new Gauge({
    name: 'lightsout_issuer_keys_age_seconds',
    help: 'Seconds since the external issuer\'s keys were last refreshed',
    registers,
    collect() {
      const { lastSuccessAt } = keys.status();
      this.set(lastSuccessAt === undefined ? -1 : (Date.now() - lastSuccessAt) / 1000);
    },
  });
  await keys.start();
  app.addHook('onClose', async () => keys.close());
  return keys;
}

export default fp(identityPlugin, { name: 'lightsout-identity', dependencies: ['lightsout-store', 'lightsout-audit', 'lightsout-metrics'] });
