import Type, { type Static } from 'typebox';
import { Slug } from '../schemas/server.js';
import { SessionId, StreamKind } from './session.js';

/**
 * One console recording as `GET /v1/recordings` lists it (the relay stores
 * one per recorded session; the id is the session id).
 */
export const RecordingMeta = Type.Object({
  id: SessionId,
  sessionId: SessionId,
  serverId: Slug,
  tenant: Slug,
  kind: StreamKind,
  /** Display name of the user who opened the session. */
  user: Type.String({ maxLength: 255 }),
  /** Who opened it (user id, or `svc:<token id>`): they may replay their own sessions. Absent on older recordings. */
  subject: Type.Optional(Type.String({ maxLength: 255 })),
  /** ms since epoch */
  startedAt: Type.Integer({ minimum: 0 }),
});
export type RecordingMeta = Static<typeof RecordingMeta>;

/** A listed recording: its meta and how much it holds, for the list's size and duration columns. */
export const RecordingListEntry = Type.Object({
  ...RecordingMeta.properties,
  /** Bytes of console output stored (the stream offset reached). */
  bytes: Type.Optional(Type.Integer({ minimum: 0 })),
  /** When it last grew, ms since epoch: the end of a finished session. */
  lastWrittenAt: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type RecordingListEntry = Static<typeof RecordingListEntry>;

/** `GET /v1/recordings` */
export const RecordingList = Type.Object({ recordings: Type.Array(RecordingListEntry) });
export type RecordingList = Static<typeof RecordingList>;

/**
 * A tenant's recording rules (`PUT /v1/tenants/{id}/recording-policy`, and one
 * entry of the relay's recording-policy.json): what a rule leaves out falls
 * back to the deployment's defaults.
 */
export const RecordingRules = Type.Object(
  {
    sol: Type.Optional(Type.Boolean()),
    serial: Type.Optional(Type.Boolean()),
    vnc: Type.Optional(Type.Boolean()),
    /** Recordings older than this (since they last grew) are deleted; null = kept until deleted by hand. */
    retentionDays: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 36_500 }), Type.Null()])),
  },
  { additionalProperties: false },
);
export type RecordingRules = Static<typeof RecordingRules>;

/** `GET /v1/tenants/{id}/recording-policy`: the tenant's stored rules and what applies after the defaults. */
export const RecordingPolicyView = Type.Object({
  tenant: Slug,
  /** The tenant's own rules ({} when none is stored: the deployment's defaults apply). */
  policy: RecordingRules,
  /** What applies: the tenant's rules over the deployment's defaults. retentionDays null: kept until deleted. */
  effective: Type.Object({ sol: Type.Boolean(), serial: Type.Boolean(), vnc: Type.Boolean(), retentionDays: Type.Union([Type.Integer(), Type.Null()]) }),
  updatedAt: Type.Union([Type.String(), Type.Null()]),
  updatedBy: Type.Union([Type.String(), Type.Null()]),
});
export type RecordingPolicyView = Static<typeof RecordingPolicyView>;
