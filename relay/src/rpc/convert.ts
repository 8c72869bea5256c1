import { type JsonValue, create, fromJson } from '@bufbuild/protobuf';
import { ValueSchema, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { type BootDevice as BootDeviceName, type BulkJobView, type BulkOperation as BulkOperationJson, type BulkSelector as BulkSelectorJson, type BulkTarget as BulkTargetJson, LightsoutError, type PendingPower as PendingPowerJson, type PowerAction as PowerActionName, type PowerState as PowerStateName, type SelEntry, type Sensor as SensorJson, type ServerView, type SessionCreated, type StreamKind, type StreamMode } from '@lightsout/shared';
import {
  BootDevice,
  type BulkOperation,
  BulkOperationSchema,
  type BulkSelector,
  BulkSelectorSchema,
  BulkServerResultSchema,
  BulkTargetSchema,
  type CreateSessionResponse,
  CreateSessionResponseSchema,
  EventLogEntrySchema,
  type GetBulkJobResponse,
  GetBulkJobResponseSchema,
  PendingPowerSchema,
  PowerAction,
  PowerState,
  SensorSchema,
  type Server,
  ServerSchema,
  SessionKind,
  SessionMode,
} from '@lightsout/shared/rpc';

/**
 * Between the REST API's JSON shapes (what the service functions take and
 * return) and the RPC messages. Pure mapping, no decisions: an enum left
 * UNSPECIFIED where a value is required is VALIDATION_FAILED, as a missing
 * field is in a REST body.
 */

const POWER_STATES: Record<PowerStateName, PowerState> = { on: PowerState.ON, off: PowerState.OFF, unknown: PowerState.UNKNOWN };
const POWER_ACTIONS: Record<PowerActionName, PowerAction> = { on: PowerAction.ON, off: PowerAction.OFF, cycle: PowerAction.CYCLE, reset: PowerAction.RESET, soft: PowerAction.SOFT };
const BOOT_DEVICES: Record<BootDeviceName, BootDevice> = { none: BootDevice.NONE, pxe: BootDevice.PXE, disk: BootDevice.DISK, cd: BootDevice.CD, bios: BootDevice.BIOS };
/** The RPC API opens the consoles; the BMC's web UI (kind `web`) is a browser's, through REST. */
const SESSION_KINDS: Record<Exclude<StreamKind, 'web'>, SessionKind> = { sol: SessionKind.SOL, serial: SessionKind.SERIAL, vnc: SessionKind.VNC };
const SESSION_MODES: Record<StreamMode, SessionMode> = { view: SessionMode.VIEW, control: SessionMode.CONTROL };

function reverse<K extends string, V extends number>(table: Record<K, V>): Map<V, K> {
  return new Map(Object.entries(table).map(([name, value]) => [value as V, name as K]));
}
const POWER_STATE_NAMES = reverse(POWER_STATES);
const POWER_ACTION_NAMES = reverse(POWER_ACTIONS);
const BOOT_DEVICE_NAMES = reverse(BOOT_DEVICES);
const SESSION_KIND_NAMES = reverse(SESSION_KINDS);
const SESSION_MODE_NAMES = reverse(SESSION_MODES);

function required<V, K>(names: Map<V, K>, value: V, field: string): K {
  const name = names.get(value);
  if (name === undefined) throw new LightsoutError('VALIDATION_FAILED', `${field} is required (got ${String(value)})`);
  return name;
}

export const powerStateOf = (state: PowerStateName): PowerState => POWER_STATES[state];
export const powerActionName = (action: PowerAction): PowerActionName => required(POWER_ACTION_NAMES, action, 'action');
export const bootDeviceOf = (device: BootDeviceName): BootDevice => BOOT_DEVICES[device];
export const bootDeviceName = (device: BootDevice): BootDeviceName => required(BOOT_DEVICE_NAMES, device, 'device');
export const sessionKindName = (kind: SessionKind): StreamKind => required(SESSION_KIND_NAMES, kind, 'kind');
/** UNSPECIFIED: the role's default (viewers watch, the others type), as an absent `mode` in REST. */
export const sessionModeName = (mode: SessionMode): StreamMode | undefined => (mode === SessionMode.UNSPECIFIED ? undefined : required(SESSION_MODE_NAMES, mode, 'mode'));
/** UNSPECIFIED: no power criterion. */
export const powerStateName = (state: PowerState): PowerStateName | undefined => (state === PowerState.UNSPECIFIED ? undefined : required(POWER_STATE_NAMES, state, 'power'));

const timestamp = (iso: string | null | undefined) => (iso === null || iso === undefined ? undefined : timestampFromDate(new Date(iso)));

export function pendingPowerMessage(pending: PendingPowerJson) {
  return create(PendingPowerSchema, { action: POWER_ACTIONS[pending.action], target: POWER_STATES[pending.target], since: timestamp(pending.since) });
}

export function serverMessage(view: ServerView): Server {
  return create(ServerSchema, {
    id: view.id,
    name: view.name,
    tenant: view.tenant,
    region: view.region,
    datacenter: view.datacenter,
    rack: view.rack,
    labels: view.labels,
    capabilities: [...view.capabilities],
    agentId: view.agentId,
    agentOnline: view.agent === 'online',
    power: POWER_STATES[view.power],
    stateAt: timestamp(view.stateAt),
    sessions: view.sessions ?? 0,
    pendingPower: view.pendingPower ? pendingPowerMessage(view.pendingPower) : undefined,
  });
}

export const sensorMessage = (sensor: SensorJson) => create(SensorSchema, { name: sensor.name, type: sensor.type, ...(sensor.value === null ? {} : { value: sensor.value }), unit: sensor.unit, status: sensor.status });

export const eventLogEntryMessage = (entry: SelEntry) =>
  create(EventLogEntrySchema, { id: BigInt(entry.id), time: timestamp(entry.time), sensor: entry.sensor, event: entry.event, asserted: entry.direction === 'asserted', raw: entry.raw });

export function sessionMessage(created: SessionCreated): CreateSessionResponse {
  return create(CreateSessionResponseSchema, {
    sessionId: created.sessionId,
    streamUrl: created.streamUrl,
    token: created.token,
    expiresAt: timestamp(created.expiresAt),
    serverId: created.serverId,
    kind: created.kind === 'web' ? SessionKind.UNSPECIFIED : SESSION_KINDS[created.kind],
    mode: SESSION_MODES[created.mode],
    routeUrl: created.routeUrl ?? '',
  });
}

/** An RPC selector as the bulk service takes it (REST's JSON); empty fields are no criterion. */
export function bulkSelectorJson(selector: BulkSelector | undefined): BulkSelectorJson {
  if (selector === undefined) return {};
  const power = powerStateName(selector.power);
  return {
    ...(selector.ids.length > 0 ? { ids: selector.ids } : {}),
    ...(Object.keys(selector.labels).length > 0 ? { labels: selector.labels } : {}),
    ...(selector.rack !== '' ? { rack: selector.rack } : {}),
    ...(selector.datacenter !== '' ? { datacenter: selector.datacenter } : {}),
    ...(selector.region !== '' ? { region: selector.region } : {}),
    ...(power === undefined ? {} : { power }),
  };
}

export function bulkOperationJson(operation: BulkOperation | undefined): BulkOperationJson {
  const kind = operation?.kind;
  switch (kind?.case) {
    case 'power':
      return { kind: 'power', action: powerActionName(kind.value.action) };
    case 'boot':
      return { kind: 'boot', device: bootDeviceName(kind.value.device), persistent: kind.value.persistent, ...(kind.value.uefi === undefined ? {} : { uefi: kind.value.uefi }) };
    case 'mediaEject':
      return { kind: 'media.eject' };
    case 'sensorsRead':
      return { kind: 'sensors.read' };
    default:
      throw new LightsoutError('VALIDATION_FAILED', 'operation is required: power, boot, media_eject or sensors_read');
  }
}

function bulkOperationMessage(operation: BulkOperationJson): BulkOperation {
  switch (operation.kind) {
    case 'power':
      return create(BulkOperationSchema, { kind: { case: 'power', value: { action: POWER_ACTIONS[operation.action] } } });
    case 'boot':
      return create(BulkOperationSchema, { kind: { case: 'boot', value: { device: BOOT_DEVICES[operation.device], persistent: operation.persistent ?? false, ...(operation.uefi === undefined ? {} : { uefi: operation.uefi }) } } });
    case 'media.eject':
      return create(BulkOperationSchema, { kind: { case: 'mediaEject', value: {} } });
    case 'sensors.read':
      return create(BulkOperationSchema, { kind: { case: 'sensorsRead', value: {} } });
  }
}

export const bulkTargetMessage = (target: BulkTargetJson) =>
  create(BulkTargetSchema, { id: target.id, name: target.name, agentId: target.agentId, rack: target.rack, datacenter: target.datacenter, power: POWER_STATES[target.power] });

export function bulkJobMessage(view: BulkJobView): GetBulkJobResponse {
  return create(GetBulkJobResponseSchema, {
    id: view.id,
    finished: view.state === 'finished',
    operation: bulkOperationMessage(view.operation),
    selector: create(BulkSelectorSchema, {
      ids: view.selector.ids ?? [],
      labels: view.selector.labels ?? {},
      rack: view.selector.rack ?? '',
      datacenter: view.selector.datacenter ?? '',
      region: view.selector.region ?? '',
      power: view.selector.power === undefined ? PowerState.UNSPECIFIED : POWER_STATES[view.selector.power],
    }),
    total: view.total,
    succeeded: view.succeeded,
    failed: view.failed,
    createdAt: timestamp(view.createdAt),
    finishedAt: timestamp(view.finishedAt),
    results: view.results.map((result) =>
      create(BulkServerResultSchema, {
        serverId: result.serverId,
        ok: result.ok,
        code: result.code ?? '',
        message: result.message ?? '',
        seconds: result.seconds,
        ...(result.data === undefined ? {} : { data: fromJson(ValueSchema, result.data as JsonValue) }),
      }),
    ),
  });
}

