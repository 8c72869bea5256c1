import type { BmcConfig, RedfishFlavour } from '../bmc/config.js';

/** Resource IDs as each vendor family names them (OpenBMC bmcweb, Supermicro, DMTF mockups). */
const IDS: Record<RedfishFlavour, { system: string; manager: string; chassis: string }> = {
  openbmc: { system: 'system', manager: 'bmc', chassis: 'chassis' },
  supermicro: { system: '1', manager: '1', chassis: '1' },
  dmtf: { system: '437XR1138R2', manager: 'BMC', chassis: '1U' },
};

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
  const ids = IDS[config.faults.redfishFlavour];
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
