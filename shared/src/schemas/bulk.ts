import Type, { type Static } from 'typebox';
import { ErrorCodeSchema } from './error.js';
import { BootDevice } from './operations.js';
import { PowerAction, PowerState, Slug } from './server.js';

/** Most servers one bulk job may act on (the resolved list is answered in full by a dry run). */
export const BULK_MAX_SERVERS = 10_000;

/**
 * Which servers a bulk job acts on: every given criterion must hold (AND);
 * `labels` entries are `key=value`, all of which must match. Resolved by the
 * relay inside the caller's own tenant and grants, never across tenants.
 * An empty selector matches every server the caller may reach.
 */
export const BulkSelector = Type.Object(
  {
    ids: Type.Optional(Type.Array(Slug, { minItems: 1, maxItems: BULK_MAX_SERVERS })),
    labels: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 63 }), Type.String({ maxLength: 255 }), { maxProperties: 16 })),
    rack: Type.Optional(Slug),
    datacenter: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
    region: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
    power: Type.Optional(PowerState),
  },
  { additionalProperties: false },
);
export type BulkSelector = Static<typeof BulkSelector>;

/** What a bulk job does on each server; `kind` picks the operation. */
export const BulkOperation = Type.Union([
  Type.Object({ kind: Type.Literal('power'), action: PowerAction }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('boot'), device: BootDevice, persistent: Type.Optional(Type.Boolean()), uefi: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('media.eject') }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('sensors.read') }, { additionalProperties: false }),
]);
export type BulkOperation = Static<typeof BulkOperation>;

/** `POST /v1/bulk`. */
export const BulkRequest = Type.Object(
  {
    selector: BulkSelector,
    operation: BulkOperation,
    /** Resolve and answer the server list; act on nothing. */
    dryRun: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type BulkRequest = Static<typeof BulkRequest>;

/** One resolved server, as a dry run lists it. */
export const BulkTarget = Type.Object({ id: Slug, name: Type.String(), agentId: Type.String(), rack: Type.String(), datacenter: Type.String(), power: PowerState });
export type BulkTarget = Static<typeof BulkTarget>;

/**
 * One server's result. `ok` is true only for what was observed: a power
 * action once the BMC reported the target state (a cycle: off, then on),
 * the rest once the BMC answered. `data` carries what a read returned
 * (sensors) or what the BMC reports after a write (boot).
 */
export const BulkServerResult = Type.Object({
  serverId: Slug,
  ok: Type.Boolean(),
  code: Type.Optional(ErrorCodeSchema),
  message: Type.Optional(Type.String()),
  /** Seconds from the start of this server's operation to its result. */
  seconds: Type.Number({ minimum: 0 }),
  data: Type.Optional(Type.Unknown()),
});
export type BulkServerResult = Static<typeof BulkServerResult>;

export const BulkJobState = Type.Union([Type.Literal('running'), Type.Literal('finished')]);
export type BulkJobState = Static<typeof BulkJobState>;

/** `GET /v1/bulk/{id}`: the job and every result so far (in the order they came). */
export const BulkJobView = Type.Object({
  id: Type.String(),
  state: BulkJobState,
  operation: BulkOperation,
  selector: BulkSelector,
  total: Type.Integer({ minimum: 0 }),
  succeeded: Type.Integer({ minimum: 0 }),
  failed: Type.Integer({ minimum: 0 }),
  createdAt: Type.String(),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  results: Type.Array(BulkServerResult),
});
export type BulkJobView = Static<typeof BulkJobView>;

/** `POST /v1/bulk` answers 202 with this (a dry run: 200 with `servers` and no job). */
export const BulkAccepted = Type.Object({
  jobId: Type.Union([Type.String(), Type.Null()]),
  dryRun: Type.Boolean(),
  total: Type.Integer({ minimum: 0 }),
  servers: Type.Optional(Type.Array(BulkTarget)),
});
export type BulkAccepted = Static<typeof BulkAccepted>;

/**
 * Bulk progress on the events feed (`/v1/events`), sent to the job's own
 * caller: one `bulk-result` per server as it comes, then `bulk-finished`.
 */
export type BulkEventMessage =
  | { type: 'bulk-result'; jobId: string; result: BulkServerResult; done: number; total: number }
  | { type: 'bulk-finished'; jobId: string; total: number; succeeded: number; failed: number };
