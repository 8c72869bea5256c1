import type { BmcConfig } from '../bmc/config.js';
import { flavourOf } from './flavours.js';

export interface ResourcePaths {
  systemId: string;
  managerId: string;
  chassisId: string;
  system: string;
  manager: string;
  chassis: string;
  /** The VirtualMedia collection, under Managers or Systems per the fault knob. */
  virtualMediaCollection: string;
  virtualMedia: string;
  sel: string;
}

export function resourcePaths(config: BmcConfig): ResourcePaths {
  const { ids } = flavourOf(config);
  const system = `/redfish/v1/Systems/${ids.system}`;
  const manager = `/redfish/v1/Managers/${ids.manager}`;
  const virtualMediaCollection = `${config.faults.virtualMediaLocation === 'systems' ? system : manager}/VirtualMedia`;
  return {
    systemId: ids.system,
    managerId: ids.manager,
    chassisId: ids.chassis,
    system,
    manager,
    chassis: `/redfish/v1/Chassis/${ids.chassis}`,
    virtualMediaCollection,
    virtualMedia: `${virtualMediaCollection}/CD1`,
    sel: `${manager}/LogServices/SEL`,
  };
}
