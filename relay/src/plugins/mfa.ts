import { ErrorBodySchema, LightsoutError, type Role } from '@lightsout/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { sameTenantOr404 } from '../access/guards.js';
import { assignableRoles } from '../access/permissions.js';
import { stepUpPolicy, stepUpShortfall } from '../access/step-up.js';
import { passwordMatches } from '../identity/accounts.js';
import { otpauthUri } from '../identity/totp.js';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema, 429: ErrorBodySchema };
const secured = { tags: ['identity'], security: [{ bearer: [] }] };

const EnrollBody = Type.Object(
  {
    /** The account's password, typed again: a stolen access token alone cannot enroll a factor. */
    password: Type.String({ minLength: 1, maxLength: 1024 }),
    /** A tenant admin's one-time enrollment code: required when the tenant requires MFA and the user has no factor yet. */
    enrollmentCode: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);

/**
 * A user's own TOTP second factor (embedded OP). Starting an enrollment
 * needs, on top of a sign-in at most `stepUpMaxAgeSeconds` old:
 *
 *   - the password typed again in the request, always;
 *   - a proof of the active factor (a sign-in that used it) to replace it;
 *   - in a tenant that requires MFA, for a user with no factor yet, a
 *     one-time enrollment code a tenant admin issued: there the password is
 *     exactly what is not enough, so it cannot be what adds the factor.
 *
 * The secret (shown once) becomes the factor when a first code confirms it;
 * until then an active factor stays. Removing a factor needs a fresh sign-in
 * with it. Every step is audited.
 */
export default async function mfaPlugin(app: FastifyInstance): Promise<void> {
  function person(request: FastifyRequest) {
    // API tokens are refused by the permission itself (account.manage-own is people only).
    const principal = request.principal!;
    if (app.identity.secondFactors === undefined) {
      throw new LightsoutError('FORBIDDEN', 'only people signed in through the embedded identity provider have a second factor here');
    }
    return { principal, factors: app.identity.secondFactors };
  }

  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.post('/v1/me/totp', { config: { permission: 'account.manage-own' }, schema: { ...secured, body: EnrollBody, response: { 201: Type.Object({ secret: Type.String(), otpauthUri: Type.String() }), ...errors } } }, async (request, reply) => {
    const { principal, factors } = person(request);
    const { body } = request;
    const denied = async (reason: string, error: LightsoutError) => {
      await app.audit.fromRequest(request, { action: 'mfa.enroll-start', outcome: 'denied', subject: principal.subject, tenant: principal.tenant, details: { reason } });
      return error;
    };
    const state = await factors.state(principal.subject);
    const policy = await stepUpPolicy(app, principal.tenant);
    const shortfall = stepUpShortfall(principal, { maxAgeSeconds: policy.maxAgeSeconds, mfa: state.active });
    if (shortfall !== undefined) {
      throw await denied(state.active ? 'old-factor-not-proven' : 'stale-sign-in', new LightsoutError('STEP_UP_REQUIRED', `${state.active ? 'replacing' : 'enrolling'} a second factor needs a recent sign-in: ${shortfall}`, { details: { maxAge: policy.maxAgeSeconds, mfa: state.active } }));
    }
    // The password re-entry is a guess like any other: the sign-in form's throttle counts it.
    const verdict = await app.identity.throttle.check(principal.username, request.ip);
    if (!verdict.allowed) throw await denied('throttled', new LightsoutError('RATE_LIMITED', 'too many wrong passwords', { details: { retryAfterSeconds: verdict.retryAfterSeconds } }));
    if (!(await passwordMatches(app.store, principal.subject, body.password))) {
      await app.identity.throttle.failed(principal.username, request.ip);
      throw await denied('password-wrong', new LightsoutError('FORBIDDEN', 'that is not your password', { hint: 'type the password you sign in with' }));
    }
    if (!state.active && policy.mfa) {
      const spent = body.enrollmentCode !== undefined && (await factors.spendEnrollmentCode(principal.subject, body.enrollmentCode));
      if (!spent) {
        throw await denied(body.enrollmentCode === undefined ? 'enrollment-code-missing' : 'enrollment-code-wrong', new LightsoutError('MFA_ENROLLMENT_REQUIRED', 'this tenant requires a second factor, and adding the first one needs an enrollment code from a tenant administrator', { hint: 'ask a tenant administrator for a one-time enrollment code (POST /v1/users/<you>/mfa-enrollment)' }));
      }
    }
    const secret = await factors.begin(principal.subject);
    await app.audit.fromRequest(request, { action: 'mfa.enroll-start', outcome: 'success', subject: principal.subject, tenant: principal.tenant, details: { replacing: state.active } });
    return reply.status(201).send({ secret, otpauthUri: otpauthUri(secret, principal.username) });
  });

  api.post('/v1/me/totp/confirm', { config: { permission: 'account.manage-own' }, schema: { ...secured, body: Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false }), response: { 200: Type.Object({ mfa: Type.Literal(true) }), ...errors } } }, async (request) => {
    const { principal, factors } = person(request);
    if (!(await factors.state(principal.subject)).pending) throw new LightsoutError('CONFLICT', 'no second-factor enrollment in progress', { hint: 'start one with POST /v1/me/totp' });
    if (!(await factors.confirm(principal.subject, request.body.code))) {
      await app.audit.fromRequest(request, { action: 'mfa.enroll', outcome: 'failure', subject: principal.subject, tenant: principal.tenant });
      throw new LightsoutError('VALIDATION_FAILED', 'wrong one-time code', { hint: "check the authenticator app's clock and enter the current code" });
    }
    await app.audit.fromRequest(request, { action: 'mfa.enroll', outcome: 'success', subject: principal.subject, tenant: principal.tenant });
    return { mfa: true as const };
  });

  app.delete('/v1/me/totp', { config: { permission: 'account.manage-own' }, schema: { ...secured, response: { 204: Type.Null(), ...errors } } }, async (request, reply) => {
    const { principal, factors } = person(request);
    // Removing a factor is itself sensitive: a recent sign-in (with the factor) is required.
    const shortfall = stepUpShortfall(principal, { maxAgeSeconds: app.config.identity.stepUpMaxAgeSeconds, mfa: (await factors.state(principal.subject)).active });
    if (shortfall !== undefined) throw new LightsoutError('STEP_UP_REQUIRED', `removing the second factor needs a recent sign-in: ${shortfall}`);
    await factors.remove(principal.subject);
    await app.audit.fromRequest(request, { action: 'mfa.remove', outcome: 'success', subject: principal.subject, tenant: principal.tenant });
    return reply.status(204).send();
  });

  api.post(
    '/v1/users/:userId/mfa-enrollment',
    { config: { permission: 'users.manage' }, schema: { tags: ['users'], security: [{ bearer: [] }], params: Type.Object({ userId: Type.String({ maxLength: 64 }) }), response: { 201: Type.Object({ code: Type.String(), expiresAt: Type.String() }), ...errors } } },
    async (request, reply) => {
      const principal = request.principal!;
      const factors = app.identity.secondFactors;
      if (factors === undefined) throw new LightsoutError('FORBIDDEN', 'second factors are managed by the external identity provider');
      const { userId } = request.params;
      const row = await app.store.selectFrom('users').select(['id', 'tenant_id', 'username', 'role']).where('id', '=', userId).executeTakeFirst();
      sameTenantOr404(principal, row?.tenant_id, `user ${userId}`);
      if (!assignableRoles(principal.role).includes(row!.role as Role)) throw new LightsoutError('FORBIDDEN', `a ${principal.role} cannot manage a ${row!.role}`);
      const issued = await factors.issueEnrollmentCode(userId);
      await app.audit.fromRequest(request, { action: 'mfa.enrollment-code', outcome: 'success', subject: principal.subject, tenant: row!.tenant_id, target: `user:${row!.username}` });
      return reply.status(201).send({ code: issued.code, expiresAt: new Date(issued.expiresAt).toISOString() });
    },
  );
}
