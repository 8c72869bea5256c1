import { LightsoutError } from '@lightsout/shared';
import { json, printable } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

/**
 * The second factor from the command line. Starting an enrollment needs a
 * recent sign-in (the CLI signs in again when the relay answers
 * STEP_UP_REQUIRED), the account's password typed again and, in a tenant
 * that requires MFA, the one-time code a tenant admin issued
 * (`lightsout users mfa-code USER`). Secrets are read from the environment,
 * never from argv, where `ps` would show them.
 */
export async function mfaEnroll(context: CommandContext, options: { json?: boolean }): Promise<void> {
  const password = context.env['LIGHTSOUT_PASSWORD'];
  if (password === undefined || password === '') throw new LightsoutError('BAD_REQUEST', 'set LIGHTSOUT_PASSWORD to your password: enrolling a factor needs it typed again');
  const enrollmentCode = context.env['LIGHTSOUT_MFA_ENROLLMENT_CODE'];
  const started = await (await apiFor(context)).post<{ secret: string; otpauthUri: string }>('/v1/me/totp', { password, ...(enrollmentCode === undefined || enrollmentCode === '' ? {} : { enrollmentCode }) });
  if (options.json) {
    context.output.out(json(started));
    return;
  }
  context.output.out(`${printable(started.otpauthUri)}\n`);
  context.output.err(printable(`secret ${started.secret} (shown once): add the URI above to your authenticator app, then confirm within 10 minutes with\n  lightsout mfa confirm CODE\n`, { newlines: true }));
}

export async function mfaConfirm(context: CommandContext, code: string, options: { json?: boolean }): Promise<void> {
  if (!/^[0-9]{6}$/.test(code)) throw new LightsoutError('BAD_REQUEST', 'the code is the 6 digits your authenticator app shows');
  const confirmed = await (await apiFor(context)).post<{ mfa: true }>('/v1/me/totp/confirm', { code });
  context.output.out(options.json ? json(confirmed) : 'second factor enrolled: sign-ins now ask for a code\n');
}

export async function mfaRemove(context: CommandContext): Promise<void> {
  await (await apiFor(context)).request<unknown>('DELETE', '/v1/me/totp', undefined);
  context.output.out('second factor removed\n');
}
