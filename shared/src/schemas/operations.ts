import Type, { type Static } from 'typebox';
import { BmcLinkStatus, PendingPower, PowerAction, PowerState } from './server.js';

export const PowerRequest = Type.Object({ action: Type.Union([PowerAction, Type.Literal('status')]) }, { additionalProperties: false });
export type PowerRequest = Static<typeof PowerRequest>;

/**
 * `power.get`/`power.set` and `POST /v1/servers/{id}/power`. For an action
 * the relay answers once the BMC accepted it: `power` is the state reported
 * at that moment (the old one, usually) and `pending` what is being
 * confirmed; `GET /v1/servers/{id}` shows the outcome (`lastPower`).
 */
export const PowerResult = Type.Object({
  power: PowerState,
  pending: Type.Optional(PendingPower),
  /** What the BMC was asked to do for the action (Redfish ResetType, IPMI chassis control), when it differs in name. */
  via: Type.Optional(Type.String({ maxLength: 64 })),
});
export type PowerResult = Static<typeof PowerResult>;

/**
 * Control op `power.await`: after the BMC accepted an action, the agent reads
 * its power state there, at `intervalsMs` (the last one repeats), until it
 * reports `target` — with `needsOff`, an off first (a cycle of a running
 * server passes through off) — or `deadlineMs` after the request passes.
 * One request instead of one `power.get` per read: the reads are local to
 * the agent, and the relay hears the outcome once.
 */
export const PowerAwaitParams = Type.Object({
  serverId: Type.String({ minLength: 1, maxLength: 63 }),
  target: Type.Union([Type.Literal('on'), Type.Literal('off')]),
  needsOff: Type.Boolean(),
  intervalsMs: Type.Array(Type.Integer({ minimum: 50, maximum: 60_000 }), { minItems: 1, maxItems: 32 }),
  deadlineMs: Type.Integer({ minimum: 1, maximum: 600_000 }),
});
export type PowerAwaitParams = Static<typeof PowerAwaitParams>;

/** What `power.await` saw: `confirmed` only when a read returned the target (after an off, if asked). */
export const PowerAwaitResult = Type.Object({
  power: PowerState,
  confirmed: Type.Boolean(),
  /** Reads made; the last one's answer is `power`. */
  reads: Type.Integer({ minimum: 0 }),
});
export type PowerAwaitResult = Static<typeof PowerAwaitResult>;

/** `POST /v1/servers/{id}/credentials/retry`: the agent tried to log in at once; what it saw. */
export const CredentialsRetryResult = Type.Object({ power: PowerState, reachable: Type.Boolean(), bmc: Type.Optional(BmcLinkStatus) });
export type CredentialsRetryResult = Static<typeof CredentialsRetryResult>;

export const BootDevice = Type.Union([
  Type.Literal('none'),
  Type.Literal('pxe'),
  Type.Literal('disk'),
  Type.Literal('cd'),
  Type.Literal('bios'),
]);
export type BootDevice = Static<typeof BootDevice>;

/** `POST /v1/servers/{id}/boot`, control op `boot.set`; also the result of `boot.get`. */
export const BootOverride = Type.Object(
  {
    device: BootDevice,
    persistent: Type.Boolean({ default: false }),
    uefi: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);
export type BootOverride = Static<typeof BootOverride>;

/**
 * `POST /v1/servers/{id}/boot` and control op `boot.set`: what to change.
 * `uefi` absent keeps the BMC's current boot mode (true = UEFI, false =
 * Legacy): a boot device request never switches the mode unasked.
 */
export const BootRequest = Type.Object(
  {
    device: BootDevice,
    persistent: Type.Optional(Type.Boolean()),
    uefi: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type BootRequest = Static<typeof BootRequest>;

/**
 * The answer to `boot.set`: the override as the BMC reports it after the
 * write, and a warning when that is not what was asked (a BMC that keeps
 * "once" as persistent, or ignores the mode).
 */
export const BootResult = Type.Object({
  device: BootDevice,
  persistent: Type.Boolean(),
  uefi: Type.Boolean(),
  warning: Type.Optional(Type.String()),
});
export type BootResult = Static<typeof BootResult>;

/**
 * A threshold sensor's limits in its unit, those the BMC reports (IPMI v2.0
 * §43.1 readable thresholds; Redfish Sensor Thresholds or Thermal/Power
 * `…Threshold…` properties): non-critical ≈ Redfish "caution", non-recoverable ≈ "fatal".
 */
export const SensorThresholds = Type.Object({
  lowerNonRecoverable: Type.Optional(Type.Number()),
  lowerCritical: Type.Optional(Type.Number()),
  lowerNonCritical: Type.Optional(Type.Number()),
  upperNonCritical: Type.Optional(Type.Number()),
  upperCritical: Type.Optional(Type.Number()),
  upperNonRecoverable: Type.Optional(Type.Number()),
});
export type SensorThresholds = Static<typeof SensorThresholds>;

export const Sensor = Type.Object({
  name: Type.String(),
  /** temperature, fan, voltage, current, power, other */
  type: Type.String(),
  value: Type.Union([Type.Number(), Type.Null()]),
  unit: Type.String(),
  /** ok, warning (non-critical), critical, non-recoverable, unknown */
  status: Type.String(),
  /** Absent when the BMC reports none (discrete sensors, older agents). */
  thresholds: Type.Optional(SensorThresholds),
});
export type Sensor = Static<typeof Sensor>;

export const SensorList = Type.Object({ sensors: Type.Array(Sensor) });
export type SensorList = Static<typeof SensorList>;

/**
 * `GET /v1/servers/{id}/identity`, control op `identity.get`: what the BMC
 * says the machine is. A field the BMC did not report is absent (the server
 * page shows "not reported"). Over Redfish: the ComputerSystem's
 * Manufacturer, Model, SerialNumber, BiosVersion and its Manager's
 * FirmwareVersion. Over IPMI: Get Device ID (IPMI v2.0 §20.1) for the BMC
 * firmware, the manufacturer's IANA enterprise number and product number;
 * the BMC's FRU device 0 (§34, FRU spec v1.0) for vendor, model and serial;
 * Get System Info Parameters (system firmware version) for the BIOS version.
 * A BMC without FRU or system info leaves those absent (docs/ipmi.md).
 */
export const ServerIdentity = Type.Object({
  source: Type.Union([Type.Literal('redfish'), Type.Literal('ipmi')]),
  /** The manufacturer's name: Redfish Manufacturer; over IPMI the FRU's manufacturer, else a well-known IANA number's vendor (docs/ipmi.md). */
  vendor: Type.Optional(Type.String({ maxLength: 256 })),
  /** IPMI: the IANA Private Enterprise Number of the manufacturer (shown when it has no name in our table). */
  manufacturerId: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xfffff })),
  model: Type.Optional(Type.String({ maxLength: 256 })),
  /** IPMI: the manufacturer's product ID. */
  productId: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffff })),
  serialNumber: Type.Optional(Type.String({ maxLength: 256 })),
  bmcFirmware: Type.Optional(Type.String({ maxLength: 256 })),
  biosVersion: Type.Optional(Type.String({ maxLength: 256 })),
});
export type ServerIdentity = Static<typeof ServerIdentity>;

/** The most readings the agent keeps per server (GET /v1/servers/{id}/sensors/history). */
export const SENSOR_HISTORY_LIMIT = 720;

/**
 * `GET /v1/servers/{id}/sensors/history`: the readings the server's agent
 * kept, oldest first, column by column (the form a chart draws): `at[i]` is
 * the time of sample i (ms since the epoch), `series[k][i]` sensor k's value
 * then (null: no reading, or the sensor was not there).
 */
export const SensorHistory = Type.Object({
  sensors: Type.Array(Type.Object({ name: Type.String(), type: Type.String(), unit: Type.String() }), { maxItems: 256 }),
  at: Type.Array(Type.Number(), { maxItems: SENSOR_HISTORY_LIMIT }),
  series: Type.Array(Type.Array(Type.Union([Type.Number(), Type.Null()]), { maxItems: SENSOR_HISTORY_LIMIT }), { maxItems: 256 }),
  /** Seconds between the agent's own readings of this server; 0 when it reads only on request. */
  intervalSeconds: Type.Integer({ minimum: 0 }),
});
export type SensorHistory = Static<typeof SensorHistory>;

export const SelEntry = Type.Object({
  id: Type.Integer(),
  /** ISO-8601, or null when the BMC's clock was not set (pre-init timestamp). */
  time: Type.Union([Type.String(), Type.Null()]),
  sensor: Type.String(),
  event: Type.String(),
  direction: Type.Union([Type.Literal('asserted'), Type.Literal('deasserted')]),
  /** The raw 16-byte record as hex, for tools that decode more than we do. */
  raw: Type.String(),
});
export type SelEntry = Static<typeof SelEntry>;

export const SelList = Type.Object({ entries: Type.Array(SelEntry) });
export type SelList = Static<typeof SelList>;
