import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type ApiTokenCreated, type ApiTokenList, type ApiTokenView, type AuditChainVerdict, type AuditRecord, type GrantList, type GrantSelector, type GrantView, LightsoutError, type UserList, type UserView, auditCanonicalForm, verifyAuditChain } from '@lightsout/shared';
import { resolveRelay, tokenSourceFor } from '../auth/session.js';
import { errorOf, send } from '../http.js';
import { json, table } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

function parseLines(text: string, source: string): AuditRecord[] {
  const records: AuditRecord[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as AuditRecord);
    } catch {
      throw new LightsoutError('MALFORMED_MESSAGE', `${source} line ${index + 1} is not JSON`, { hint: 'pass the file written by `lightsout audit export`' });
    }
  }
  return records;
}

/** The export as text, from the live relay (with the caller's login or LIGHTSOUT_TOKEN), and whether it is one tenant's slice. */
async function fetchExport(context: CommandContext): Promise<{ text: string; partial: boolean }> {
  const relay = await resolveRelay(context.relayFlag, context.env);
  const response = await send(`${relay}/v1/audit/export`, { headers: { authorization: `Bearer ${await tokenSourceFor(relay, context.env).token()}` } });
  if (!response.ok) throw await errorOf(response);
  return { text: await response.text(), partial: (response.headers.get('x-lightsout-audit-scope') ?? 'all') !== 'all' };
}

export async function auditExport(context: CommandContext): Promise<void> {
  context.output.out((await fetchExport(context)).text);
}

/**
 * `audit verify [--file F] [--partial]`: recompute every record's hash and
 * follow the chain. A tenant admin's export holds only their tenant's
 * records, whose links point at records they cannot see: then (`--partial`,
 * or the relay says so) each record's own hash is checked, not the links.
 */
export async function auditVerify(context: CommandContext, options: { file?: string; partial?: boolean; json?: boolean }): Promise<void> {
  const source = options.file === undefined ? await fetchExport(context) : { text: await readFile(options.file, 'utf8'), partial: options.partial === true };
  const records = parseLines(source.text, options.file ?? 'the export');
  let verdict: AuditChainVerdict;
  if (!source.partial) {
    verdict = verifyAuditChain(records, sha256Hex);
  } else {
    context.output.err("note: one tenant's slice of the log: each record's hash is checked; links to other tenants' records are not checkable\n");
    const bad = records.find(({ hash, ...rest }) => sha256Hex(auditCanonicalForm(rest)) !== hash);
    verdict =
      bad === undefined
        ? { ok: true, records: records.length, lastHash: records.at(-1)?.hash ?? '', lastSeq: records.at(-1)?.seq ?? null }
        : { ok: false, records: records.length, seq: bad.seq, problem: 'hash-mismatch', message: `record ${bad.seq} was changed after it was written` };
  }
  if (options.json) context.output.out(json(verdict));
  if (!verdict.ok) {
    throw new LightsoutError('CHECKSUM_MISMATCH', `audit chain broken at record ${verdict.seq}: ${verdict.message}`, { details: { seq: verdict.seq, problem: verdict.problem } });
  }
  if (!options.json) context.output.out(`audit chain ok: ${verdict.records} records, last ${verdict.lastSeq ?? '-'} ${verdict.lastHash}\n`);
}

const tokenRow = (token: ApiTokenView) => [token.id, token.name, token.tenant, token.role, token.expiresAt, token.revokedAt ?? '-', token.lastUsedAt ?? '-'];

export async function tokensCreate(context: CommandContext, name: string, options: { role: string; ttl?: number; tenant?: string; json?: boolean }): Promise<void> {
  const created = await (await apiFor(context)).post<ApiTokenCreated>('/v1/tokens', { name, role: options.role, ...(options.ttl === undefined ? {} : { ttlSeconds: options.ttl }), ...(options.tenant === undefined ? {} : { tenant: options.tenant }) });
  if (options.json) {
    context.output.out(json(created));
    return;
  }
  // The secret alone on stdout (TOKEN=$(lightsout tokens create …)); it is never shown again.
  context.output.out(`${created.token}\n`);
  context.output.err(`API token ${created.id} (${created.role}, tenant ${created.tenant}) expires ${created.expiresAt}; shown once — use it as LIGHTSOUT_TOKEN\n`);
}

export async function tokensList(context: CommandContext, options: { tenant?: string; json?: boolean }): Promise<void> {
  const list = await (await apiFor(context)).get<ApiTokenList>(`/v1/tokens${options.tenant === undefined ? '' : `?tenant=${encodeURIComponent(options.tenant)}`}`);
  context.output.out(options.json ? json(list) : table(['ID', 'NAME', 'TENANT', 'ROLE', 'EXPIRES', 'REVOKED', 'LAST USED'], list.tokens.map(tokenRow)));
}

export async function tokensRevoke(context: CommandContext, tokenId: string, options: { json?: boolean }): Promise<void> {
  const revoked = await (await apiFor(context)).post<{ id: string; revokedAt: string }>(`/v1/tokens/${encodeURIComponent(tokenId)}/revoke`, {});
  context.output.out(options.json ? json(revoked) : `revoked ${revoked.id} at ${revoked.revokedAt}\n`);
}

export async function usersList(context: CommandContext, options: { tenant?: string; json?: boolean }): Promise<void> {
  const list = await (await apiFor(context)).get<UserList>(`/v1/users${options.tenant === undefined ? '' : `?tenant=${encodeURIComponent(options.tenant)}`}`);
  context.output.out(options.json ? json(list) : table(['ID', 'USERNAME', 'TENANT', 'ROLE', 'MFA', 'DISABLED'], list.users.map((user) => [user.id, user.username, user.tenant, user.role, user.mfa ? 'yes' : 'no', user.disabled ? 'yes' : 'no'])));
}

/** `users create NAME --role R` reads the password from LIGHTSOUT_NEW_PASSWORD (never from argv, where `ps` would show it). */
export async function usersCreate(context: CommandContext, username: string, options: { role: string; tenant?: string; json?: boolean }): Promise<void> {
  const password = context.env['LIGHTSOUT_NEW_PASSWORD'];
  if (password === undefined || password.length < 12) throw new LightsoutError('BAD_REQUEST', 'set LIGHTSOUT_NEW_PASSWORD to the new user\'s password (12 characters or more)');
  const user = await (await apiFor(context)).post<UserView>('/v1/users', { username, password, role: options.role, ...(options.tenant === undefined ? {} : { tenant: options.tenant }) });
  context.output.out(options.json ? json(user) : `created ${user.username} (${user.role}, tenant ${user.tenant}) id ${user.id}\n`);
}

/** `users disable ID`: refused from the next request on; live consoles end at once. */
export async function usersSetDisabled(context: CommandContext, userId: string, disabled: boolean, options: { json?: boolean }): Promise<void> {
  const user = await (await apiFor(context)).request<UserView>('PATCH', `/v1/users/${encodeURIComponent(userId)}`, { disabled });
  context.output.out(options.json ? json(user) : `${user.username} is ${user.disabled ? 'disabled' : 'enabled'}\n`);
}

function selectorText(selector: GrantSelector): string {
  return selector.kind === 'rack' ? `rack ${selector.rack}` : selector.kind === 'label' ? `label ${selector.key}=${selector.value}` : `servers ${selector.ids.join(',')}`;
}

export async function grantsList(context: CommandContext, options: { tenant?: string; json?: boolean }): Promise<void> {
  const list = await (await apiFor(context)).get<GrantList>(`/v1/grants${options.tenant === undefined ? '' : `?tenant=${encodeURIComponent(options.tenant)}`}`);
  context.output.out(options.json ? json(list) : table(['ID', 'USER', 'SCOPE', 'CREATED'], list.grants.map((grant) => [grant.id, grant.userId, selectorText(grant.selector), grant.createdAt])));
}

/** `grants create USER --rack R | --label k=v | --servers a,b`: narrows the user to that group (grants add up). */
export async function grantsCreate(context: CommandContext, userId: string, options: { rack?: string; label?: string; servers?: string; json?: boolean }): Promise<void> {
  const given = [options.rack, options.label, options.servers].filter((value) => value !== undefined);
  if (given.length !== 1) throw new LightsoutError('BAD_REQUEST', 'give exactly one of --rack, --label key=value, --servers a,b');
  let selector: GrantSelector;
  if (options.rack !== undefined) selector = { kind: 'rack', rack: options.rack };
  else if (options.label !== undefined) {
    const [key, ...rest] = options.label.split('=');
    if (!key || rest.length === 0) throw new LightsoutError('BAD_REQUEST', '--label must be key=value');
    selector = { kind: 'label', key, value: rest.join('=') };
  } else selector = { kind: 'servers', ids: options.servers!.split(',').map((id) => id.trim()).filter(Boolean) };
  const grant = await (await apiFor(context)).post<GrantView>('/v1/grants', { userId, selector });
  context.output.out(options.json ? json(grant) : `grant ${grant.id}: ${grant.userId} → ${selectorText(grant.selector)}\n`);
}

export async function grantsDelete(context: CommandContext, grantId: string): Promise<void> {
  await (await apiFor(context)).request<unknown>('DELETE', `/v1/grants/${encodeURIComponent(grantId)}`, undefined);
  context.output.out(`deleted grant ${grantId}\n`);
}
