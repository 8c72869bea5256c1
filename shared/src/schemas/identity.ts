import Type, { type Static } from 'typebox';
import { Slug } from './server.js';

export const Role = Type.Union([
  Type.Literal('viewer'),
  Type.Literal('operator'),
  Type.Literal('tenant-admin'),
  Type.Literal('provider-admin'),
]);
export type Role = Static<typeof Role>;

/** `GET /v1/me` */
export const WhoAmI = Type.Object({
  subject: Type.String(),
  username: Type.String(),
  tenant: Slug,
  role: Role,
  issuer: Type.String(),
  /** Seconds since epoch at which the access token expires. */
  expiresAt: Type.Integer(),
});
export type WhoAmI = Static<typeof WhoAmI>;

/**
 * `GET /v1/client-config`: what a client (CLI, desktop, web) needs to log in,
 * published unauthenticated so the only thing a user types is the relay URL.
 */
export const ClientConfig = Type.Object({
  issuer: Type.String(),
  clientId: Type.String(),
  cliClientId: Type.String(),
  scopes: Type.String(),
  /** The `aud` clients must request (resource indicator, RFC 8707). */
  audience: Type.String(),
});
export type ClientConfig = Static<typeof ClientConfig>;
