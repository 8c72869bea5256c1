import { ErrorBodySchema, LightsoutError } from '@lightsout/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { stepUpShortfall } from '../access/step-up.js';
import { newTotpSecret, otpauthUri, verifyTotp } from '../identity/totp.js';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 409: ErrorBodySchema };
const secured = { tags: ['identity'], security: [{ bearer: [] }] };
const PENDING = 'pending:';

/**
 * A user's own TOTP second factor (embedded OP): start enrollment (secret +
 * otpauth URI, shown once), confirm it with a first code, remove it after a
 * fresh sign-in. Login then asks for the code and puts `otp` in `amr`.
 */
export default async function mfaPlugin(app: FastifyInstance): Promise<void> {
  function person(request: FastifyRequest) {
    const principal = request.principal!;
    if (principal.kind === 'service-account' || app.config.identity.mode !== 'embedded') {
      throw new LightsoutError('FORBIDDEN', 'only people signed in through the embedded identity provider have a second factor here');
    }
    return principal;
  }
  async function secretOf(subject: string): Promise<string | null> {
    return (await app.store.selectFrom('users').select('totp_secret').where('id', '=', subject).executeTakeFirst())?.totp_secret ?? null;
  }

  app.post('/v1/me/totp', { preHandler: app.authenticate, schema: { ...secured, response: { 201: Type.Object({ secret: Type.String(), otpauthUri: Type.String() }), ...errors } } }, async (request, reply) => {
    const principal = person(request);
    const current = await secretOf(principal.subject);
    if (current !== null && !current.startsWith(PENDING)) throw new LightsoutError('CONFLICT', 'a second factor is already active', { hint: 'remove it first (DELETE /v1/me/totp)' });
    const secret = newTotpSecret();
    await app.store.updateTable('users').set({ totp_secret: `${PENDING}${secret}` }).where('id', '=', principal.subject).execute();
    await app.audit.fromRequest(request, { action: 'mfa.enroll-start', outcome: 'success', subject: principal.subject, tenant: principal.tenant });
    return reply.status(201).send({ secret, otpauthUri: otpauthUri(secret, principal.username) });
  });

  app.post('/v1/me/totp/confirm', { preHandler: app.authenticate, schema: { ...secured, body: Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false }), response: { 200: Type.Object({ mfa: Type.Literal(true) }), ...errors } } }, async (request) => {
    const principal = person(request);
    const current = await secretOf(principal.subject);
    if (current === null || !current.startsWith(PENDING)) throw new LightsoutError('CONFLICT', 'no second-factor enrollment in progress', { hint: 'start one with POST /v1/me/totp' });
    const secret = current.slice(PENDING.length);
    if (!verifyTotp(secret, (request.body as { code: string }).code)) {
      await app.audit.fromRequest(request, { action: 'mfa.enroll', outcome: 'failure', subject: principal.subject, tenant: principal.tenant });
      throw new LightsoutError('VALIDATION_FAILED', 'wrong one-time code', { hint: 'check the authenticator app\'s clock and enter the current code' });
    }
    await app.store.updateTable('users').set({ totp_secret: secret }).where('id', '=', principal.subject).execute();
    await app.audit.fromRequest(request, { action: 'mfa.enroll', outcome: 'success', subject: principal.subject, tenant: principal.tenant });
    return { mfa: true as const };
  });

  app.delete('/v1/me/totp', { preHandler: app.authenticate, schema: { ...secured, response: { 204: Type.Null(), ...errors } } }, async (request, reply) => {
    const principal = person(request);
    // Removing a factor is itself sensitive: a recent sign-in (with the factor) is required.
    const shortfall = stepUpShortfall(principal, { maxAgeSeconds: app.config.identity.stepUpMaxAgeSeconds, mfa: (await secretOf(principal.subject))?.startsWith(PENDING) === false });
    if (shortfall !== undefined) throw new LightsoutError('STEP_UP_REQUIRED', `removing the second factor needs a recent sign-in: ${shortfall}`);
    await app.store.updateTable('users').set({ totp_secret: null }).where('id', '=', principal.subject).execute();
    await app.audit.fromRequest(request, { action: 'mfa.remove', outcome: 'success', subject: principal.subject, tenant: principal.tenant });
    return reply.status(204).send();
  });
}
