import { LightsoutError, type UserList, type UserView } from '@lightsout/shared';
import { json, printable, table } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

export async function usersList(context: CommandContext, options: { tenant?: string; json?: boolean }): Promise<void> {
  const list = await (await apiFor(context)).get<UserList>(`/v1/users${options.tenant === undefined ? '' : `?tenant=${encodeURIComponent(options.tenant)}`}`);
  context.output.out(options.json ? json(list) : table(['ID', 'USERNAME', 'TENANT', 'ROLE', 'MFA', 'DISABLED'], list.users.map((user) => [user.id, user.username, user.tenant, user.role, user.mfa ? 'yes' : 'no', user.disabled ? 'yes' : 'no'])));
}

/** `users create NAME --role R` reads the password from LIGHTSOUT_NEW_PASSWORD (never from argv, where `ps` would show it). */
export async function usersCreate(context: CommandContext, username: string, options: { role: string; tenant?: string; json?: boolean }): Promise<void> {
  const password = context.env['LIGHTSOUT_NEW_PASSWORD'];
  if (password === undefined || password.length < 12) throw new LightsoutError('BAD_REQUEST', 'set LIGHTSOUT_NEW_PASSWORD to the new user\'s password (12 characters or more)');
  const user = await (await apiFor(context)).post<UserView>('/v1/users', { username, password, role: options.role, ...(options.tenant === undefined ? {} : { tenant: options.tenant }) });
  context.output.out(options.json ? json(user) : printable(`created ${user.username} (${user.role}, tenant ${user.tenant}) id ${user.id}\n`, { newlines: true }));
}

/** `users disable ID`: refused from the next request on; live consoles end at once. */
export async function usersSetDisabled(context: CommandContext, userId: string, disabled: boolean, options: { json?: boolean }): Promise<void> {
  const user = await (await apiFor(context)).request<UserView>('PATCH', `/v1/users/${encodeURIComponent(userId)}`, { disabled });
  context.output.out(options.json ? json(user) : printable(`${user.username} is ${user.disabled ? 'disabled' : 'enabled'}\n`, { newlines: true }));
}

/** `users mfa-code USER` (tenant admins): a one-time enrollment code for that user, shown once, valid 24 h. */
export async function usersMfaCode(context: CommandContext, userId: string, options: { json?: boolean }): Promise<void> {
  const issued = await (await apiFor(context)).post<{ code: string; expiresAt: string }>(`/v1/users/${encodeURIComponent(userId)}/mfa-enrollment`, {});
  if (options.json) {
    context.output.out(json(issued));
    return;
  }
  // The code alone on stdout, so a provisioning script can hand it on; the rest is for humans.
  context.output.out(`${printable(issued.code)}\n`);
  context.output.err(printable(`one-time enrollment code for ${userId}, valid until ${issued.expiresAt}: give it to the user over a channel you trust; they run\n  LIGHTSOUT_MFA_ENROLLMENT_CODE=<code> LIGHTSOUT_PASSWORD=<their password> lightsout mfa enroll\n`, { newlines: true }));
}
