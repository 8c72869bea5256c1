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
