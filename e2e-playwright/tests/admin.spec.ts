import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { expect, logIn, shot, test } from '../support/test.js';

/** Opens Administration at a section (the header button, then the section in its list). */
async function openSection(page: Page, section: 'users' | 'tenants' | 'agents' | 'join-tokens' | 'tokens' | 'audit'): Promise<void> {
  if ((await page.getByTestId('admin-view').count()) === 0) await page.getByTestId('open-admin').click();
  await page.getByTestId(`admin-section-${section}`).click();
}

/** Runs an audit search in the screen and returns the rows it shows. */
async function auditSearch(page: Page, filter: { user?: string; action?: string; server?: string }) {
  await openSection(page, 'audit');
  await page.getByTestId('audit-user').fill(filter.user ?? '');
  await page.getByTestId('audit-action').fill(filter.action ?? '');
  await page.getByTestId('audit-server').fill(filter.server ?? '');
  await page.getByTestId('audit-search').click();
  return page.getByTestId('audit-row');
}

test('an operator is offered no Administration', async ({ page, stack }) => {
  await logIn(page, stack, 'operator');
  await expect(page.getByTestId('open-ssh-keys')).toBeVisible();
  await expect(page.getByTestId('open-admin')).toHaveCount(0);
});

test('an admin creates a user, grants a server, creates and revokes a join token, revokes an API token, and finds it all in the audit log', async ({ page, fleet, context }) => {
  test.setTimeout(180_000);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: fleet.relayUrl });
  const server = fleet.servers[0]!;
  const username = `tech-${Date.now().toString(36)}`;
  await logIn(page, fleet, 'admin');

  // Users and grants, in the tenant whose servers the fleet registered.
  await openSection(page, 'users');
  await page.getByTestId('admin-tenant').selectOption('demo');
  await expect(page.getByTestId('user-row').filter({ hasText: 'operator' })).toBeVisible();
  await page.getByTestId('user-create-username').fill(username);
  await page.getByTestId('user-create-password').fill('e2e-technician-password-1');
  await page.getByTestId('user-create-role').selectOption('operator');
  await page.getByTestId('user-create-submit').click();
  const row = page.locator(`[data-testid="user-row"][data-username="${username}"]`);
  await expect(row).toContainText('operator');
  await expect(row.getByTestId('user-grants')).toHaveText('every server of the tenant (no grants)');
  // The same name again: the relay's typed refusal, shown where the admin acted.
  await page.getByTestId('user-create-username').fill(username);
  await page.getByTestId('user-create-password').fill('e2e-technician-password-1');
  await page.getByTestId('user-create-submit').click();
  await expect(page.getByTestId('admin-error')).toContainText(`CONFLICT: tenant demo already has a user ${username}`);
  await shot(page, '50-admin-users');

  await row.getByTestId('grant-open').click();
  const dialog = page.getByTestId('grant-dialog');
  await dialog.getByTestId('grant-filter').fill(server.name);
  await dialog.locator(`[data-testid="grant-server"][data-server-id="${server.id}"] input`).check();
  await shot(page, '51-admin-grant');
  await dialog.getByTestId('grant-submit').click();
  await expect(dialog).toHaveCount(0);
  await expect(row.getByTestId('grant-chip')).toHaveText(`${server.name}×`);

  // A join token: its value shown once, copied to the clipboard, then revoked before any agent used it.
  await openSection(page, 'join-tokens');
  await page.getByTestId('join-token-region').fill('e2e');
  await page.getByTestId('join-token-datacenter').fill('lab1');
  await page.locator('[data-testid="tenant-choice"][value="demo"]').check();
  await page.getByTestId('join-token-create').click();
  const value = page.getByTestId('one-time-value');
  await expect(value).toHaveText(/^[A-Za-z0-9_-]{43}$/);
  const joinToken = (await value.textContent())!;
  await page.getByTestId('copy-one-time-value').click();
  await expect(page.getByTestId('copy-one-time-value')).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(joinToken);
  const tokenRow = page.locator(`[data-testid="join-token-row"][data-id="${createHash('sha256').update(joinToken).digest('hex')}"]`);
  await expect(tokenRow).toHaveAttribute('data-state', 'pending');
  await shot(page, '52-admin-join-token');
  await page.getByTestId('one-time-done').click();
  await expect(page.getByTestId('one-time-secret')).toHaveCount(0);
  await tokenRow.getByTestId('join-token-revoke').click();
  await expect(tokenRow).toHaveCount(0);
  // Revoked means refused: an agent enrolling with it now is turned away.
  const { publicKey } = generateKeyPairSync('ed25519');
  const enroll = await fetch(`${fleet.relayUrl}/v1/agents/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ joinToken, name: 'too-late', publicKey: { kty: 'OKP', crv: 'Ed25519', x: publicKey.export({ format: 'jwk' }).x } }) });
  expect({ status: enroll.status, code: ((await enroll.json()) as { code: string }).code }).toEqual({ status: 401, code: 'JOIN_TOKEN_INVALID' });

  // Agents: the fleet's agent, online, with its servers.
  await openSection(page, 'agents');
  await expect(page.getByTestId('agent-row').filter({ hasText: 'e2e-agent' })).toContainText('online');
  await shot(page, '53-admin-agents');

  // An API token, created (shown once) and revoked: it opens nothing afterwards.
  await openSection(page, 'tokens');
  await page.getByTestId('admin-tenant').selectOption('demo');
  await page.getByTestId('api-token-name').fill(`ci-${username}`);
  await page.getByTestId('api-token-create').click();
  await expect(page.getByTestId('one-time-value')).toHaveText(/^lso_/);
  const apiToken = (await page.getByTestId('one-time-value').textContent())!;
  expect((await fetch(`${fleet.relayUrl}/v1/servers`, { headers: { authorization: `Bearer ${apiToken}` } })).status).toBe(200);
  await page.getByTestId('one-time-done').click();
  const apiRow = page.locator(`[data-testid="api-token-row"][data-name="ci-${username}"]`);
  await expect(apiRow).toHaveAttribute('data-state', 'active');
  await apiRow.getByTestId('api-token-revoke').click();
  await expect(apiRow).toHaveAttribute('data-state', 'revoked');
  expect((await fetch(`${fleet.relayUrl}/v1/servers`, { headers: { authorization: `Bearer ${apiToken}` } })).status).toBe(401);
  await shot(page, '54-admin-api-tokens');

  // A tenant of its own (the stack is shared: demo's policy stays as the other specs expect), then its second factor required.
  await openSection(page, 'tenants');
  const tenant = `t-${username}`;
  await page.getByTestId('tenant-create-id').fill(tenant);
  await page.getByTestId('tenant-create-name').fill('E2E customer');
  await page.getByTestId('tenant-create-submit').click();
  const tenantRow = page.locator(`[data-testid="tenant-row"][data-tenant="${tenant}"]`);
  await expect(tenantRow).toContainText('optional');
  await tenantRow.getByTestId('tenant-mfa-toggle').click();
  await page.getByTestId('tenant-mfa-confirm').click();
  await expect(tenantRow).toContainText('required');
  await shot(page, '55-admin-tenants');

  // That tenant's console recording: the stack's file records VNC for everyone; this tenant stops it and keeps recordings 30 days.
  await page.getByTestId('admin-tenant').selectOption(tenant);
  const recording = page.getByTestId('recording-policy');
  await expect(recording.getByTestId('recording-vnc-effective')).toHaveText('now: recorded');
  await expect(recording.getByTestId('recording-retention-effective')).toHaveText('now: kept until deleted');
  await recording.getByTestId('recording-vnc').selectOption('off');
  await recording.getByTestId('recording-retention').selectOption('days');
  await recording.getByTestId('recording-retention-days').fill('0');
  await expect(recording).toContainText('retention: a whole number of days from 1 to 36,500');
  await expect(recording.getByTestId('recording-policy-save')).toBeDisabled();
  await recording.getByTestId('recording-retention-days').fill('30');
  await recording.getByTestId('recording-policy-save').click();
  await expect(recording.getByTestId('recording-vnc-effective')).toHaveText('now: not recorded');
  await expect(recording.getByTestId('recording-retention-effective')).toHaveText('now: deleted 30 days after they last grew');
  await expect(recording).toContainText('by admin');
  await shot(page, '55b-admin-recording-policy');

  // The audit log finds each action by who did it (a username, not an id) and what it was.
  const users = await auditSearch(page, { user: 'admin', action: 'user' });
  await expect(users.filter({ hasText: `user:${username}` }).first()).toHaveAttribute('data-action', 'user.create');
  const grants = await auditSearch(page, { user: 'admin', action: 'grant.create' });
  await expect(grants.first()).toContainText(`user:${username}`);
  await expect(grants.first()).toHaveAttribute('data-actor', 'admin');
  const joins = await auditSearch(page, { user: 'admin', action: 'join-token' });
  await expect(joins.nth(0)).toHaveAttribute('data-action', 'join-token.revoke');
  await expect(joins.nth(1)).toHaveAttribute('data-action', 'join-token.create');
  const tenantChanges = await auditSearch(page, { user: 'admin', action: 'tenant' });
  await expect(tenantChanges.nth(0)).toHaveAttribute('data-action', 'tenant.update');
  await expect(tenantChanges.nth(0)).toContainText(`tenant:${tenant}`);
  await expect(tenantChanges.nth(1)).toHaveAttribute('data-action', 'tenant.create');
  const revokes = await auditSearch(page, { user: 'admin', action: 'token.revoke' });
  await expect(revokes.first()).toHaveAttribute('data-actor', 'admin');
  await expect(revokes.first()).toContainText(`token:ci-${username}`);
  await expect(revokes).toHaveCount(1);
  // Nobody by that name: an empty result says so.
  const none = await auditSearch(page, { user: 'nobody-by-this-name' });
  await expect(none).toHaveCount(0);
  await expect(page.getByTestId('audit-table')).toContainText('No records match.');
  await shot(page, '57-admin-audit-empty');
  // Everything the admin did, newest first: the recording policy last.
  const everything = await auditSearch(page, { user: 'admin' });
  await expect(everything.first()).toHaveAttribute('data-action', 'recording.policy.set');
  await expect(everything.first()).toContainText(`tenant:${tenant}`);
  await expect(everything.nth(1)).toHaveAttribute('data-action', 'tenant.update');
  await shot(page, '56-admin-audit');

  // A time range, in the browser's local time: from an hour ahead nothing matches; from an hour back the tenant's change does.
  const localTime = (offsetMs: number) =>
    page.evaluate((offset) => {
      const at = new Date(Date.now() + offset);
      const two = (value: number) => String(value).padStart(2, '0');
      return `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())}T${two(at.getHours())}:${two(at.getMinutes())}`;
    }, offsetMs);
  await page.getByTestId('audit-since').fill(await localTime(3_600_000));
  const ahead = await auditSearch(page, { user: 'admin', action: 'tenant' });
  await expect(page.getByTestId('audit-table')).toContainText('No records match.');
  await expect(ahead).toHaveCount(0);
  await page.getByTestId('audit-since').fill(await localTime(-3_600_000));
  const within = await auditSearch(page, { user: 'admin', action: 'tenant' });
  await expect(within.first()).toHaveAttribute('data-action', 'tenant.update');

  // Export: every record as JSON lines, each of this test's actions in it once.
  const downloaded = page.waitForEvent('download');
  await page.getByTestId('audit-export').click();
  const download = await downloaded;
  expect(download.suggestedFilename()).toMatch(/^lightsout-audit-\d{4}-\d{2}-\d{2}\.jsonl$/);
  const records = readFileSync(await download.path(), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { action: string; target: string | null });
  const mine = (action: string, target: string) => records.filter((record) => record.action === action && record.target === target);
  expect(mine('tenant.create', `tenant:${tenant}`)).toHaveLength(1);
  expect(mine('tenant.update', `tenant:${tenant}`)).toHaveLength(1);
  expect(mine('user.create', `user:${username}`)).toHaveLength(1);
});
