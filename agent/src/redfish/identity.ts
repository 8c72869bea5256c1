import type { ServerIdentity } from '@lightsout/shared';
import type { RedfishClient } from './client.js';
import type { RedfishTopology } from './discovery.js';
import { type JsonObject, stringAt } from './json.js';

/**
 * What the BMC says the machine is: the ComputerSystem's Manufacturer, Model,
 * SerialNumber and BiosVersion (DSP2046 ComputerSystem) and the first
 * managing BMC's FirmwareVersion (Manager). A property that is missing,
 * null or blank is not reported (some BMCs answer "" or " " for a serial
 * nobody programmed).
 */
export async function readIdentity(client: RedfishClient, topology: RedfishTopology): Promise<ServerIdentity> {
  const system = (await client.get(topology.systemPath)).body;
  const managerPath = topology.managerPaths[0];
  const manager = managerPath === undefined ? undefined : (await client.get(managerPath)).body;
  return {
    source: 'redfish',
    ...reported('vendor', system, 'Manufacturer'),
    ...reported('model', system, 'Model'),
    ...reported('serialNumber', system, 'SerialNumber'),
    ...reported('bmcFirmware', manager, 'FirmwareVersion'),
    ...reported('biosVersion', system, 'BiosVersion'),
  };
}

function reported<K extends keyof ServerIdentity>(field: K, resource: JsonObject | undefined, property: string): Partial<Record<K, string>> {
  const value = stringAt(resource, property)?.trim();
  return value ? ({ [field]: value.slice(0, 256) } as Partial<Record<K, string>>) : {};
}
