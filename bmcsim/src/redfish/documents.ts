import type { BmcConfig } from '../bmc/config.js';
import type { EventLog } from '../bmc/event-log.js';
import { SENSORS, sensorReading } from '../bmc/sensors.js';
import { BMCSIM_BIOS_VERSION, BMCSIM_FIRMWARE_VERSION, BMCSIM_MANUFACTURER, BMCSIM_MODEL, bmcsimSerialNumber } from '../bmc/identity.js';
import type { BootDevice, Host } from '../host/host.js';
import { flavourOf } from './flavours.js';
import type { ResourcePaths } from './ids.js';

/**
 * Redfish resources as JSON, shaped after the public DMTF mockups and
 * OpenBMC bmcweb output (@odata.id/@odata.type on every resource, Members
 * arrays in collections, Actions with targets). Built fresh on each GET
 * from the live host state, so nothing is cached per BMC.
 */
export interface DocumentContext {
  config: BmcConfig;
  host: Host;
  eventLog: EventLog;
  paths: ResourcePaths;
  now: () => number;
  systemEtag: () => string;
  uuid: string;
  /** What a static mockup stored from a PATCH of its VirtualMedia (fault `virtualMediaStoresPatch`); nothing was fetched. */
  storedMedia?: () => { image: string | null; inserted: boolean } | undefined;
}

export const RESET_TYPES = ['On', 'ForceOn', 'ForceOff', 'ForceRestart', 'GracefulShutdown', 'GracefulRestart', 'PowerCycle', 'Nmi', 'PushPowerButton'] as const;
export type ResetType = (typeof RESET_TYPES)[number];

/** Redfish BootSourceOverrideTarget ↔ host boot device, as the flavour names them (flavours.ts). */
export function bootTargets(context: DocumentContext): Readonly<Record<string, BootDevice>> {
  return flavourOf(context.config).bootTargets;
}

const collection = (id: string, type: string, name: string, members: string[]) => ({
  '@odata.id': id,
  '@odata.type': `#${type}`,
  Name: name,
  Members: members.map((member) => ({ '@odata.id': member })),
  'Members@odata.count': members.length,
});

export function serviceRoot(context: DocumentContext): unknown {
  return {
    '@odata.id': '/redfish/v1',
    '@odata.type': '#ServiceRoot.v1_11_0.ServiceRoot',
    Id: 'RootService',
    Name: 'Root Service',
    RedfishVersion: '1.11.0',
    UUID: context.uuid,
    Product: `bmcsim ${context.config.faults.redfishFlavour}`,
    Vendor: 'Lightsout bmcsim',
    Systems: { '@odata.id': '/redfish/v1/Systems' },
    Chassis: { '@odata.id': '/redfish/v1/Chassis' },
    Managers: { '@odata.id': '/redfish/v1/Managers' },
    SessionService: { '@odata.id': '/redfish/v1/SessionService' },
    Links: { Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' } },
  };
}

export function sessionService(context: DocumentContext): unknown {
  return {
    '@odata.id': '/redfish/v1/SessionService',
    '@odata.type': '#SessionService.v1_1_8.SessionService',
    Id: 'SessionService',
    Name: 'Session Service',
    ServiceEnabled: true,
    SessionTimeout: context.config.sessionTimeoutSeconds,
    Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' },
  };
}

export function sessionCollection(sessionIds: string[]): unknown {
  return collection('/redfish/v1/SessionService/Sessions', 'SessionCollection.SessionCollection', 'Session Collection', sessionIds.map((id) => `/redfish/v1/SessionService/Sessions/${id}`));
}

export function session(id: string, userName: string): unknown {
  return { '@odata.id': `/redfish/v1/SessionService/Sessions/${id}`, '@odata.type': '#Session.v1_3_0.Session', Id: id, Name: 'User Session', UserName: userName };
}

export function systemCollection(context: DocumentContext): unknown {
  return collection('/redfish/v1/Systems', 'ComputerSystemCollection.ComputerSystemCollection', 'Computer System Collection', [context.paths.system]);
}

export function redfishPowerState(host: Host): string {
  if (host.powerState === 'off') return 'Off';
  if (host.powerState === 'shutting-down') return 'PoweringOff';
  return 'On';
}

export { BMCSIM_BIOS_VERSION, BMCSIM_FIRMWARE_VERSION } from '../bmc/identity.js';

export function computerSystem(context: DocumentContext): unknown {
  const { host, paths, config } = context;
  const override = host.bootOverride;
  const targets = bootTargets(context);
  // The first name for the device: a flavour's alias that boots nothing ("Cd" on Supermicro) comes after None.
  const target = Object.entries(targets).find(([, device]) => device === override.device)?.[0] ?? 'None';
  const document: Record<string, unknown> = {
    '@odata.id': paths.system,
    '@odata.type': '#ComputerSystem.v1_16_0.ComputerSystem',
    '@odata.etag': context.systemEtag(),
    Id: paths.systemId,
    Name: config.hostname,
    HostName: config.hostname,
    SystemType: 'Physical',
    Manufacturer: BMCSIM_MANUFACTURER,
    Model: BMCSIM_MODEL,
    SerialNumber: bmcsimSerialNumber(config),
    BiosVersion: BMCSIM_BIOS_VERSION,
    UUID: context.uuid,
    PowerState: redfishPowerState(host),
    Status: { State: 'Enabled', Health: 'OK', HealthRollup: 'OK' },
    ProcessorSummary: { Count: 2, Model: 'Simulated x86-64', Status: { State: 'Enabled', Health: 'OK' } },
    MemorySummary: { TotalSystemMemoryGiB: 64, Status: { State: 'Enabled', Health: 'OK' } },
    Boot: {
      BootSourceOverrideEnabled: override.device === 'none' ? 'Disabled' : override.persistent ? 'Continuous' : 'Once',
      BootSourceOverrideTarget: target,
      'BootSourceOverrideTarget@Redfish.AllowableValues': Object.keys(targets),
      BootSourceOverrideMode: override.uefi ? 'UEFI' : 'Legacy',
      'BootSourceOverrideMode@Redfish.AllowableValues': ['Legacy', 'UEFI'],
    },
    Links: { Chassis: [{ '@odata.id': paths.chassis }], ManagedBy: [{ '@odata.id': paths.manager }] },
    Actions: {
      '#ComputerSystem.Reset': {
        target: `${paths.system}/Actions/ComputerSystem.Reset`,
        '@Redfish.ActionInfo': `${paths.system}/ResetActionInfo`,
      },
    },
  };
  if (config.faults.virtualMediaLocation === 'systems') document.VirtualMedia = { '@odata.id': paths.virtualMediaCollection };
  return document;
}

export function resetActionInfo(context: DocumentContext): unknown {
  return {
    '@odata.id': `${context.paths.system}/ResetActionInfo`,
    '@odata.type': '#ActionInfo.v1_1_2.ActionInfo',
    Id: 'ResetActionInfo',
    Name: 'Reset Action Info',
    Parameters: [{ Name: 'ResetType', Required: true, DataType: 'String', AllowableValues: [...RESET_TYPES] }],
  };
}

export function managerCollection(context: DocumentContext): unknown {
  return collection('/redfish/v1/Managers', 'ManagerCollection.ManagerCollection', 'Manager Collection', [context.paths.manager]);
}

export function manager(context: DocumentContext): unknown {
  const { paths, config } = context;
  const document: Record<string, unknown> = {
    '@odata.id': paths.manager,
    '@odata.type': '#Manager.v1_11_0.Manager',
    Id: paths.managerId,
    Name: `${config.hostname} BMC`,
    ManagerType: 'BMC',
    FirmwareVersion: BMCSIM_FIRMWARE_VERSION,
    PowerState: 'On',
    Status: { State: 'Enabled', Health: 'OK' },
    UUID: context.uuid,
    SerialConsole: { ServiceEnabled: true, MaxConcurrentSessions: 15, ConnectTypesSupported: ['IPMI', 'Oem'] },
    GraphicalConsole: { ServiceEnabled: true, MaxConcurrentSessions: 4, ConnectTypesSupported: ['KVMIP'] },
    LogServices: { '@odata.id': `${paths.manager}/LogServices` },
    Links: { ManagerForServers: [{ '@odata.id': paths.system }], ManagerForChassis: [{ '@odata.id': paths.chassis }] },
    Actions: { '#Manager.Reset': { target: `${paths.manager}/Actions/Manager.Reset`, 'ResetType@Redfish.AllowableValues': ['GracefulRestart'] } },
  };
  if (config.faults.virtualMediaLocation === 'managers') document.VirtualMedia = { '@odata.id': paths.virtualMediaCollection };
  return document;
}

export function virtualMediaCollection(context: DocumentContext): unknown {
  return collection(context.paths.virtualMediaCollection, 'VirtualMediaCollection.VirtualMediaCollection', 'Virtual Media Services', [context.paths.virtualMedia]);
}

export function virtualMedia(context: DocumentContext, etag: string): unknown {
  const { paths, host, config } = context;
  const image = host.virtualMedia;
  const document: Record<string, unknown> = {
    '@odata.id': paths.virtualMedia,
    '@odata.type': '#VirtualMedia.v1_3_0.VirtualMedia',
    '@odata.etag': etag,
    Id: 'CD1',
    Name: 'Virtual CD',
    MediaTypes: ['CD', 'DVD'],
    Image: image?.url ?? null,
    ImageName: image?.name ?? null,
    Inserted: image !== undefined,
    WriteProtected: true,
    ConnectedVia: image ? 'URI' : 'NotConnected',
    TransferMethod: 'Stream',
    TransferProtocolType: image ? (image.url.startsWith('https:') ? 'HTTPS' : 'HTTP') : null,
  };
  const stored = context.storedMedia?.();
  if (stored) {
    // the JSON as PATCHed, and nothing behind it: no connection, no bytes read
    document.Image = stored.image;
    document.Inserted = stored.inserted;
  }
  if (!config.faults.virtualMediaPatchOnly && !config.faults.virtualMediaStoresPatch) {
    document.Actions = {
      '#VirtualMedia.InsertMedia': { target: `${paths.virtualMedia}/Actions/VirtualMedia.InsertMedia` },
      '#VirtualMedia.EjectMedia': { target: `${paths.virtualMedia}/Actions/VirtualMedia.EjectMedia` },
    };
  }
  return document;
}

export function logServices(context: DocumentContext): unknown {
  return collection(`${context.paths.manager}/LogServices`, 'LogServiceCollection.LogServiceCollection', 'Log Services', [context.paths.sel]);
}

export function selService(context: DocumentContext): unknown {
  return {
    '@odata.id': context.paths.sel,
    '@odata.type': '#LogService.v1_2_0.LogService',
    Id: 'SEL',
    Name: 'System Event Log',
    MaxNumberOfRecords: 512,
    OverWritePolicy: 'WrapsWhenFull',
    Entries: { '@odata.id': `${context.paths.sel}/Entries` },
    Actions: { '#LogService.ClearLog': { target: `${context.paths.sel}/Actions/LogService.ClearLog` } },
  };
}

function logEntry(context: DocumentContext, entry: EventLog['entries'][number]): unknown {
  return {
    '@odata.id': `${context.paths.sel}/Entries/${entry.id}`,
    '@odata.type': '#LogEntry.v1_8_0.LogEntry',
    Id: String(entry.id),
    Name: 'System Event Log Entry',
    EntryType: 'SEL',
    Severity: entry.severity,
    Created: new Date(entry.timestamp * 1000).toISOString().replace('.000Z', '+00:00'),
    Message: entry.message,
    SensorType: entry.sensor ?? entry.event === 'log-cleared' ? 'Event Logging Disabled' : 'System ACPI PowerState',
  };
}

export function selEntries(context: DocumentContext): unknown {
  const members = context.eventLog.entries.map((entry) => logEntry(context, entry));
  return { '@odata.id': `${context.paths.sel}/Entries`, '@odata.type': '#LogEntryCollection.LogEntryCollection', Name: 'System Event Log Entries', Members: members, 'Members@odata.count': members.length };
}

export function selEntry(context: DocumentContext, id: number): unknown {
  const entry = context.eventLog.find(id);
  return entry ? logEntry(context, entry) : undefined;
}

export function chassisCollection(context: DocumentContext): unknown {
  return collection('/redfish/v1/Chassis', 'ChassisCollection.ChassisCollection', 'Chassis Collection', [context.paths.chassis]);
}

export function chassis(context: DocumentContext): unknown {
  const { paths } = context;
  return {
    '@odata.id': paths.chassis,
    '@odata.type': '#Chassis.v1_14_0.Chassis',
    Id: paths.chassisId,
    Name: 'Chassis',
    ChassisType: 'RackMount',
    PowerState: redfishPowerState(context.host),
    Status: { State: 'Enabled', Health: 'OK' },
    Thermal: { '@odata.id': `${paths.chassis}/Thermal` },
    Power: { '@odata.id': `${paths.chassis}/Power` },
    // bmcweb also offers the newer Sensors collection (Chassis v1.9+); the other flavours only Thermal/Power.
    ...(flavourOf(context.config).sensorsCollection ? { Sensors: { '@odata.id': `${paths.chassis}/Sensors` } } : {}),
    Links: { ComputerSystems: [{ '@odata.id': paths.system }], ManagedBy: [{ '@odata.id': paths.manager }] },
  };
}

function readings(context: DocumentContext, kind: string) {
  return SENSORS.filter((sensor) => sensor.kind === kind).map((sensor, index) => ({
    sensor,
    index,
    value: Math.round(sensorReading(sensor, context.now(), context.host.poweredOn, context.config.seed) * 100) / 100,
  }));
}

export function thermal(context: DocumentContext): unknown {
  const base = `${context.paths.chassis}/Thermal`;
  return {
    '@odata.id': base,
    '@odata.type': '#Thermal.v1_7_0.Thermal',
    Id: 'Thermal',
    Name: 'Thermal',
    Temperatures: readings(context, 'temperature').map(({ sensor, index, value }) => ({
      '@odata.id': `${base}#/Temperatures/${index}`,
      MemberId: String(index),
      Name: sensor.name,
      SensorNumber: sensor.number,
      ReadingCelsius: value,
      UpperThresholdCritical: sensor.upperCritical,
      LowerThresholdCritical: sensor.lowerCritical,
      Status: { State: 'Enabled', Health: 'OK' },
    })),
    Fans: readings(context, 'fan').map(({ sensor, index, value }) => ({
      '@odata.id': `${base}#/Fans/${index}`,
      MemberId: String(index),
      Name: sensor.name,
      SensorNumber: sensor.number,
      Reading: Math.round(value),
      ReadingUnits: 'RPM',
      LowerThresholdCritical: sensor.lowerCritical,
      Status: { State: 'Enabled', Health: 'OK' },
    })),
  };
}

export function power(context: DocumentContext): unknown {
  const base = `${context.paths.chassis}/Power`;
  return {
    '@odata.id': base,
    '@odata.type': '#Power.v1_6_0.Power',
    Id: 'Power',
    Name: 'Power',
    PowerControl: [{ '@odata.id': `${base}#/PowerControl/0`, MemberId: '0', Name: 'System Power Control', PowerConsumedWatts: context.host.poweredOn ? 180 : 8 }],
    Voltages: readings(context, 'voltage').map(({ sensor, index, value }) => ({
      '@odata.id': `${base}#/Voltages/${index}`,
      MemberId: String(index),
      Name: sensor.name,
      SensorNumber: sensor.number,
      ReadingVolts: value,
      UpperThresholdCritical: sensor.upperCritical,
      LowerThresholdCritical: sensor.lowerCritical,
      Status: { State: 'Enabled', Health: 'OK' },
    })),
  };
}

const READING_TYPE: Record<string, { type: string; units: string }> = {
  temperature: { type: 'Temperature', units: 'Cel' },
  fan: { type: 'Rotational', units: 'RPM' },
  voltage: { type: 'Voltage', units: 'V' },
};

/** Sensor IDs as bmcweb names them: `<type>_<name>`, lower case, spaces as underscores. */
export function sensorId(sensor: (typeof SENSORS)[number]): string {
  return `${sensor.kind}_${sensor.name.toLowerCase().replace(/[^a-z0-9]+/g, '_')}`;
}

export function sensorCollection(context: DocumentContext): unknown {
  return collection(`${context.paths.chassis}/Sensors`, 'SensorCollection.SensorCollection', 'Sensors', SENSORS.map((sensor) => `${context.paths.chassis}/Sensors/${sensorId(sensor)}`));
}

// Sensor, DSP2046 Sensor v1.x: Reading, ReadingType, ReadingUnits, Thresholds.
export function sensor(context: DocumentContext, id: string): unknown {
  const definition = SENSORS.find((candidate) => sensorId(candidate) === id);
  if (!definition) return undefined;
  const value = sensorReading(definition, context.now(), context.host.poweredOn, context.config.seed);
  const available = context.host.poweredOn || definition.nominalOff !== 0;
  return {
    '@odata.id': `${context.paths.chassis}/Sensors/${id}`,
    '@odata.type': '#Sensor.v1_2_0.Sensor',
    Id: id,
    Name: definition.name,
    Reading: available ? Math.round(value * 100) / 100 : null,
    ReadingType: READING_TYPE[definition.kind]!.type,
    ReadingUnits: READING_TYPE[definition.kind]!.units,
    Status: { State: available ? 'Enabled' : 'StandbyOffline', Health: 'OK' },
    Thresholds: { UpperCritical: { Reading: definition.upperCritical }, LowerCritical: { Reading: definition.lowerCritical } },
  };
}
