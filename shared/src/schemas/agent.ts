import Type, { type Static } from 'typebox';
import { AgentStatus, Slug } from './server.js';

/** An Ed25519 public key as a JWK (RFC 8037 §2). */
export const Ed25519PublicJwk = Type.Object(
  {
    kty: Type.Literal('OKP'),
    crv: Type.Literal('Ed25519'),
    x: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
  },
  { additionalProperties: true },
);
export type Ed25519PublicJwk = Static<typeof Ed25519PublicJwk>;

/** `POST /v1/agents/join-tokens` (provider admin). */
export const JoinTokenCreate = Type.Object(
  {
    region: Slug,
    datacenter: Slug,
    /** Tenants the enrolled agent may register servers into; at least one, so no agent can register servers anywhere (docs/security.md). */
    tenants: Type.Array(Slug, { minItems: 1, maxItems: 64, uniqueItems: true }),
    /** Lifetime in seconds; short by default because the token is a bearer secret. */
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 86_400 })),
  },
  { additionalProperties: false },
);
export type JoinTokenCreate = Static<typeof JoinTokenCreate>;

export const JoinTokenCreated = Type.Object({
  /** The id the list and the revoke use (the token's SHA-256, which enrolls nothing). */
  id: Type.String(),
  token: Type.String(),
  region: Slug,
  datacenter: Slug,
  tenants: Type.Array(Slug),
  expiresAt: Type.String(),
});
export type JoinTokenCreated = Static<typeof JoinTokenCreated>;

/**
 * `GET /v1/agents/join-tokens`: the tokens made, never their value (only its
 * SHA-256 is stored; `id` is that hash, which enrolls nothing). `state` is
 * read at the time of the answer: pending until used or expired.
 */
export const JoinTokenView = Type.Object({
  id: Type.String(),
  region: Slug,
  datacenter: Slug,
  tenants: Type.Array(Slug),
  state: Type.Union([Type.Literal('pending'), Type.Literal('used'), Type.Literal('expired')]),
  createdBy: Type.String(),
  /** The creator's username where the relay knows it (null for a subject of an external issuer it never saw). */
  createdByName: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  expiresAt: Type.String(),
  usedAt: Type.Union([Type.String(), Type.Null()]),
  usedByAgent: Type.Union([Type.String(), Type.Null()]),
});
export type JoinTokenView = Static<typeof JoinTokenView>;
export const JoinTokenList = Type.Object({ joinTokens: Type.Array(JoinTokenView) });
export type JoinTokenList = Static<typeof JoinTokenList>;

/** `POST /v1/agents/enroll`: the agent trades a join token for an identity bound to its key. */
export const AgentEnroll = Type.Object(
  {
    joinToken: Type.String({ minLength: 16, maxLength: 512 }),
    name: Type.String({ minLength: 1, maxLength: 255 }),
    publicKey: Ed25519PublicJwk,
  },
  { additionalProperties: false },
);
export type AgentEnroll = Static<typeof AgentEnroll>;

export const AgentEnrolled = Type.Object({
  agentId: Type.String(),
  region: Slug,
  datacenter: Slug,
  /** The `aud` the agent must put in its control-connection JWTs. */
  audience: Type.String(),
});
export type AgentEnrolled = Static<typeof AgentEnrolled>;

export const AgentView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  region: Slug,
  datacenter: Slug,
  status: AgentStatus,
  version: Type.Union([Type.String(), Type.Null()]),
  servers: Type.Integer(),
  connectedAt: Type.Union([Type.String(), Type.Null()]),
  lastSeenAt: Type.Union([Type.String(), Type.Null()]),
  revoked: Type.Boolean(),
  /** Tenants it may register servers into (empty: none until a provider admin names them). */
  tenants: Type.Array(Slug),
});
export type AgentView = Static<typeof AgentView>;

export const AgentList = Type.Object({ agents: Type.Array(AgentView) });
export type AgentList = Static<typeof AgentList>;

/** `PUT /v1/agents/{id}/tenants` (provider admin): the tenants the agent may register servers into from now on. */
export const AgentTenants = Type.Object({ tenants: Type.Array(Slug, { minItems: 1, maxItems: 64, uniqueItems: true }) }, { additionalProperties: false });
export type AgentTenants = Static<typeof AgentTenants>;
