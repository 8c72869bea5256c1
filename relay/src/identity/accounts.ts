import { randomUUID } from 'node:crypto';
import type { Role } from '@lightsout/shared';
import type { Store } from '../store/open.js';
import { hashPassword, randomPassword, verifyPassword } from './passwords.js';

export interface Account {
  id: string;
  tenant: string;
  username: string;
  role: Role;
}

const ROLES = new Set<string>(['viewer', 'operator', 'tenant-admin', 'provider-admin']);

function toAccount(row: { id: string; tenant_id: string; username: string; role: string }): Account | undefined {
  if (!ROLES.has(row.role)) return undefined;
  return { id: row.id, tenant: row.tenant_id, username: row.username, role: row.role as Role };
}

export async function findAccountById(store: Store, id: string): Promise<Account | undefined> {
  const row = await store.selectFrom('users').select(['id', 'tenant_id', 'username', 'role']).where('id', '=', id).where('disabled', '=', 0).executeTakeFirst();
  return row === undefined ? undefined : toAccount(row);
}

// A real hash of a random password: an unknown username costs the same scrypt
// time as a wrong password, so timing does not reveal which usernames exist.
let decoyHash: Promise<string> | undefined;

/**
 * Same-named accounts of different tenants tried against one password at
 * most: a name is unique within a tenant, so this bounds the scrypt work a
 * sign-in may cost to the tenants that chose the same name, capped.
 */
const MAX_SAME_NAMED = 8;

/**
 * The accounts a sign-in name may mean. Usernames are unique per tenant, so
 * `operator` may name several; `operator@bravo` names bravo's exactly (the
 * suffix after the last `@` is a tenant), and a name that itself contains
 * `@` (an e-mail address) still matches as typed.
 */
async function candidates(store: Store, login: string) {
  const byName = await store.selectFrom('users').selectAll().where('username', '=', login).orderBy('tenant_id').limit(MAX_SAME_NAMED).execute();
  const at = login.lastIndexOf('@');
  if (at <= 0 || at === login.length - 1) return byName;
  const qualified = await store.selectFrom('users').selectAll().where('username', '=', login.slice(0, at)).where('tenant_id', '=', login.slice(at + 1)).execute();
  return [...byName, ...qualified].slice(0, MAX_SAME_NAMED);
}

/**
 * The account for these credentials, or undefined (wrong password, unknown
 * or disabled user, or a password that opens several same-named accounts:
 * the person then signs in as name@tenant).
 */
export async function authenticate(store: Store, username: string, password: string): Promise<Account | undefined> {
  const rows = await candidates(store, username);
  if (rows.length === 0) {
    decoyHash ??= hashPassword(randomPassword());
    await verifyPassword(password, await decoyHash);
    return undefined;
  }
  const matching = [];
  for (const row of rows) if (await verifyPassword(password, row.password_hash)) matching.push(row);
  if (matching.length !== 1 || matching[0]!.disabled !== 0) return undefined;
  return toAccount(matching[0]!);
}

/** Whether `password` is this (enabled) user's password: a re-entry proof inside a signed-in request. */
export async function passwordMatches(store: Store, userId: string, password: string): Promise<boolean> {
  const row = await store.selectFrom('users').select(['password_hash', 'disabled']).where('id', '=', userId).executeTakeFirst();
  if (row === undefined || row.disabled !== 0) return false;
  return verifyPassword(password, row.password_hash);
}

export async function ensureTenant(store: Store, id: string, name: string): Promise<void> {
  await store.insertInto('tenants').values({ id, name, created_at: Date.now() }).onConflict((conflict) => conflict.column('id').doNothing()).execute();
}

export async function createUser(store: Store, user: { tenant: string; username: string; password: string; role: Role }): Promise<Account> {
  const id = randomUUID();
  await store
    .insertInto('users')
    .values({ id, tenant_id: user.tenant, username: user.username, password_hash: await hashPassword(user.password), role: user.role, disabled: 0, created_at: Date.now() })
    .execute();
  return { id, tenant: user.tenant, username: user.username, role: user.role };
}

export interface SeededCredentials {
  admin: { username: string; password: string; tenant: string };
  operator: { username: string; password: string; tenant: string };
}

/**
 * First start of the embedded default: tenant `provider` with `admin`
 * (provider-admin) and tenant `demo` with `operator`. Returns the passwords
 * once, or undefined when users already exist. LIGHTSOUT_DEMO_PASSWORD makes
 * them deterministic for the demo script and tests.
 */
export async function seedDemo(store: Store, fixedPassword: string | undefined): Promise<SeededCredentials | undefined> {
  const existing = await store.selectFrom('users').select('id').limit(1).executeTakeFirst();
  if (existing !== undefined) return undefined;
  await ensureTenant(store, 'provider', 'Provider');
  await ensureTenant(store, 'demo', 'Demo tenant');
  const adminPassword = fixedPassword ?? randomPassword();
  const operatorPassword = fixedPassword ?? randomPassword();
  await createUser(store, { tenant: 'provider', username: 'admin', password: adminPassword, role: 'provider-admin' });
  await createUser(store, { tenant: 'demo', username: 'operator', password: operatorPassword, role: 'operator' });
  return {
    admin: { username: 'admin', password: adminPassword, tenant: 'provider' },
    operator: { username: 'operator', password: operatorPassword, tenant: 'demo' },
  };
}
