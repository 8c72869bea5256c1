import Type, { type Static } from 'typebox';
import { Role } from './identity.js';
import { Slug } from './server.js';

/** REST bodies of administration: users, grants, service-account tokens, tenants, audit. */

export const UserView = Type.Object({
  id: Type.String(),
  tenant: Slug,
  username: Type.String(),
  role: Role,
  disabled: Type.Boolean(),
  mfa: Type.Boolean(),
  createdAt: Type.String(),
});
export type UserView = Static<typeof UserView>;
export const UserList = Type.Object({ users: Type.Array(UserView) });
export type UserList = Static<typeof UserList>;

export const UserCreate = Type.Object(
  {
    username: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$' }),
    password: Type.String({ minLength: 12, maxLength: 1024 }),
    role: Role,
    /** Provider admins may create users in any tenant; everyone else in their own. */
    tenant: Type.Optional(Slug),
  },
  { additionalProperties: false },
);
export type UserCreate = Static<typeof UserCreate>;

export const UserUpdate = Type.Object(
  {
    role: Type.Optional(Role),
    disabled: Type.Optional(Type.Boolean()),
    password: Type.Optional(Type.String({ minLength: 12, maxLength: 1024 })),
  },
  { additionalProperties: false },
);
export type UserUpdate = Static<typeof UserUpdate>;

/** `POST /v1/me/password`: a person changes their own password (embedded identity provider). */
export const PasswordChange = Type.Object(
  {
    currentPassword: Type.String({ minLength: 1, maxLength: 1024 }),
    newPassword: Type.String({ minLength: 12, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export type PasswordChange = Static<typeof PasswordChange>;

export const GrantSelector = Type.Union([
  Type.Object({ kind: Type.Literal('rack'), rack: Type.String({ minLength: 1, maxLength: 63 }) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('label'), key: Type.String({ minLength: 1, maxLength: 63 }), value: Type.String({ maxLength: 255 }) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('servers'), ids: Type.Array(Slug, { minItems: 1, maxItems: 1000 }) }, { additionalProperties: false }),
]);
export type GrantSelector = Static<typeof GrantSelector>;

export const GrantCreate = Type.Object({ userId: Type.String({ minLength: 1, maxLength: 64 }), selector: GrantSelector }, { additionalProperties: false });
export type GrantCreate = Static<typeof GrantCreate>;
export const GrantView = Type.Object({ id: Type.String(), tenant: Slug, userId: Type.String(), selector: GrantSelector, createdBy: Type.String(), createdAt: Type.String() });
export type GrantView = Static<typeof GrantView>;
export const GrantList = Type.Object({ grants: Type.Array(GrantView) });
export type GrantList = Static<typeof GrantList>;

export const ApiTokenCreate = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}$' }),
    role: Role,
    /** Lifetime; default 30 days, at most a year. */
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 366 * 86_400 })),
    tenant: Type.Optional(Slug),
  },
  { additionalProperties: false },
);
export type ApiTokenCreate = Static<typeof ApiTokenCreate>;
export const ApiTokenView = Type.Object({
  id: Type.String(),
  tenant: Slug,
  name: Type.String(),
  role: Role,
  createdBy: Type.String(),
  createdAt: Type.String(),
  expiresAt: Type.String(),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
});
export type ApiTokenView = Static<typeof ApiTokenView>;
/** The secret is in this answer only: it is stored hashed and never shown again. */
export const ApiTokenCreated = Type.Intersect([ApiTokenView, Type.Object({ token: Type.String() })]);
export type ApiTokenCreated = Static<typeof ApiTokenCreated>;
export const ApiTokenList = Type.Object({ tokens: Type.Array(ApiTokenView) });
export type ApiTokenList = Static<typeof ApiTokenList>;

export const TenantCreate = Type.Object({ id: Slug, name: Type.String({ minLength: 1, maxLength: 128 }), requireMfa: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
export type TenantCreate = Static<typeof TenantCreate>;
/** `PATCH /v1/tenants/{id}` (provider admins): rename, or require (or stop requiring) a second factor from the next request on. */
export const TenantUpdate = Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })), requireMfa: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
export type TenantUpdate = Static<typeof TenantUpdate>;
export const TenantView = Type.Object({ id: Slug, name: Type.String(), requireMfa: Type.Boolean(), createdAt: Type.String() });
export type TenantView = Static<typeof TenantView>;
export const TenantList = Type.Object({ tenants: Type.Array(TenantView) });
export type TenantList = Static<typeof TenantList>;

export const AuditRecordView = Type.Object({
  seq: Type.Integer(),
  time: Type.Integer(),
  subject: Type.Union([Type.String(), Type.Null()]),
  tenant: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  target: Type.Union([Type.String(), Type.Null()]),
  outcome: Type.String(),
  sourceIp: Type.Union([Type.String(), Type.Null()]),
  correlationId: Type.Union([Type.String(), Type.Null()]),
  details: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  prevHash: Type.String(),
  hash: Type.String(),
  /**
   * Who `subject` is, for people: the user's username, an API token's name
   * (`token:NAME`), an agent's name (`agent:NAME`). Not part of the hashed
   * record (the export leaves it out); null when the relay does not know the subject.
   */
  actor: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  /** `target` with names for ids where the relay knows them (`token:NAME`, `agent:NAME`); null otherwise. Not hashed either. */
  targetName: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export const AuditPage = Type.Object({
  records: Type.Array(AuditRecordView),
  /** Pass as `after` (oldest first) or `before` (newest first) for the next page; null at the end. */
  next: Type.Union([Type.Integer(), Type.Null()]),
});
export type AuditPage = Static<typeof AuditPage>;
export const AuditQuery = Type.Object({
  /** Chain order (oldest first, `after` pages on) or newest first (`before` pages back). */
  order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
  after: Type.Optional(Type.Integer({ minimum: 0 })),
  before: Type.Optional(Type.Integer({ minimum: 1 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  /** Who acted: a username (every account of that name in the caller's scope). */
  user: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  /** What was acted on: records whose target is `server:ID`. */
  server: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
  /** An action (`grant.create`) or a family of them (`grant` matches `grant.*`). */
  action: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9._-]+$' })),
  /** Epoch milliseconds, inclusive. */
  since: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Epoch milliseconds, exclusive. */
  until: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type AuditQuery = Static<typeof AuditQuery>;
