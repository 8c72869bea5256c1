import { LightsoutError } from '@lightsout/shared';
import type { Principal } from '../identity/verifier.js';

/**
 * The tenant an admin acts on: their own, or for provider staff any tenant
 * they name. A tenant admin naming another tenant is refused the same way as
 * a missing one would be, without saying whether it exists.
 */
export function targetTenant(principal: Principal, requested: string | undefined): string {
  if (requested === undefined || requested === principal.tenant) return principal.tenant;
  if (principal.role === 'provider-admin') return requested;
  throw new LightsoutError('FORBIDDEN', 'you can only manage your own tenant');
}

/** Rows of another tenant are invisible: NOT_FOUND, exactly like rows that do not exist. */
export function sameTenantOr404(principal: Principal, rowTenant: string | undefined, what: string): void {
  if (rowTenant === undefined || (rowTenant !== principal.tenant && principal.role !== 'provider-admin')) throw new LightsoutError('NOT_FOUND', `no ${what}`);
}
