import { ErrorBodySchema } from '@lightsout/shared';
import Type, { type Static } from 'typebox';

/**
 * What the users, grants, tenants and server-assignment route plugins declare
 * alike. Tenant admins act in their own tenant; provider admins may name
 * another with `?tenant=` (or a body `tenant`), checked by access/guards.ts.
 */
export const tenancyErrors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema };
export const tagged = (tag: string) => ({ tags: [tag], security: [{ bearer: [] }] });
export const TenantQuery = Type.Object({ tenant: Type.Optional(Type.String({ maxLength: 63 })) });
export const iso = (milliseconds: number) => new Date(milliseconds).toISOString();

export const GrantParams = Type.Object({ grantId: Type.String({ maxLength: 64 }) });
export type GrantParams = Static<typeof GrantParams>;
