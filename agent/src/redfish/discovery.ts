import { LightsoutError } from '@lightsout/shared';
import type { RedfishClient } from './client.js';
import { type JsonObject, arrayAt, linkAt, memberLinks, objectAt, odataId, stringAt, stringsAt } from './json.js';

/**
 * Where things live on this BMC, found by following links from the service
 * root (DSP0266 §6): paths differ per vendor and firmware (OpenBMC
 * `/Systems/system`, iDRAC `/Systems/System.Embedded.1`, iLO `/Systems/1`),
 * and VirtualMedia hangs under Managers on some and under Systems on others
 * (protocol notes §4). Nothing here is hard-coded except the service root.
 */
export interface RedfishTopology {
  systemPath: string;
  managerPaths: string[];
  chassisPaths: string[];
  /** VirtualMedia slots that accept a CD/DVD image, best first. */
  virtualMediaPaths: string[];
}

/** A BMC with more than this many systems/managers/slots is treated as a chassis manager we do not drive. */
const MAX_LINKED = 16;

export async function discoverTopology(client: RedfishClient, systemId?: string): Promise<RedfishTopology> {
  const root = await client.serviceRoot();
  const systemsPath = linkAt(root, 'Systems');
  if (!systemsPath) throw new LightsoutError('BMC_UNSUPPORTED', 'the Redfish service root links no Systems collection');
  const systems = memberLinks((await client.get(systemsPath)).body);
  if (systems.length === 0) throw new LightsoutError('BMC_PROTOCOL_ERROR', 'the Redfish Systems collection is empty');
  const { systemPath, system } = systemId ? await findSystem(client, systemsPath, systems, systemId) : { systemPath: systems[0]!, system: (await client.get(systems[0]!)).body };
  const links = objectAt(system, 'Links');

  let managerPaths = linkList(links, 'ManagedBy');
  if (managerPaths.length === 0) {
    const managersPath = linkAt(root, 'Managers');
    managerPaths = managersPath ? memberLinks((await client.get(managersPath)).body).slice(0, MAX_LINKED) : [];
  }
  let chassisPaths = linkList(links, 'Chassis');
  if (chassisPaths.length === 0) {
    const chassisCollection = linkAt(root, 'Chassis');
    chassisPaths = chassisCollection ? memberLinks((await client.get(chassisCollection)).body).slice(0, MAX_LINKED) : [];
  }

  const virtualMediaPaths = await discoverVirtualMedia(client, system, managerPaths);
  return { systemPath, managerPaths, chassisPaths, virtualMediaPaths };
}

/**
 * The configured system, named by its Id, its Name or its URL: a member
 * whose path ends in it, else a member whose Id or Name is it, else the
 * collection's child of that name (some BMCs serve a system by its name
 * through a redirect to its Id). Its path is where the answer came from.
 */
async function findSystem(client: RedfishClient, systemsPath: string, systems: string[], systemId: string): Promise<{ systemPath: string; system: JsonObject }> {
  const wanted = systemId.replace(/\/+$/, '');
  const byPath = systems.find((path) => path.replace(/\/+$/, '') === wanted || lastSegment(path) === wanted);
  if (byPath) return { systemPath: byPath, system: (await client.get(byPath)).body };
  for (const path of systems.slice(0, MAX_LINKED)) {
    const { body } = await client.get(path);
    if (body.Id === wanted || body.Name === wanted) return { systemPath: path, system: body };
  }
  const direct = wanted.startsWith('/') ? wanted : `${systemsPath.replace(/\/+$/, '')}/${encodeURIComponent(wanted)}`;
  const answer = await client.get(direct).catch((error: unknown) => {
    if (error instanceof LightsoutError && error.details?.status === 404) return undefined;
    throw error;
  });
  if (answer) return { systemPath: odataId(answer.body) ?? answer.path, system: answer.body };
  throw new LightsoutError('NOT_FOUND', `the BMC has no system "${systemId}" (matched against the Id, Name and URL of its systems)`, {
    details: { systems: systems.slice(0, MAX_LINKED) },
    hint: 'set redfish.systemId in the agent configuration to one of details.systems, or leave it out on a BMC with one system',
  });
}

/** Collects VirtualMedia slots under the system first (newer iDRAC, DMTF mockups), then under each manager. */
async function discoverVirtualMedia(client: RedfishClient, system: JsonObject, managerPaths: string[]): Promise<string[]> {
  const collections: string[] = [];
  const underSystem = linkAt(system, 'VirtualMedia');
  if (underSystem) collections.push(underSystem);
  for (const managerPath of managerPaths) {
    const manager = (await client.get(managerPath)).body;
    const underManager = linkAt(manager, 'VirtualMedia');
    if (underManager) collections.push(underManager);
  }
  const ranked: { path: string; rank: number }[] = [];
  for (const collectionPath of collections) {
    const slots = memberLinks((await client.get(collectionPath)).body).slice(0, MAX_LINKED);
    for (const slotPath of slots) {
      const slot = (await client.get(slotPath)).body;
      const rank = cdRank(slotPath, slot);
      if (rank > 0) ranked.push({ path: slotPath, rank });
    }
  }
  return ranked.sort((a, b) => b.rank - a.rank).map((entry) => entry.path);
}

/**
 * Lenovo XCC (2.50 and later) lists ten CD/DVD slots, RDOC1–2 first: RDOC
 * slots hold images uploaded to the XCC itself and the Remote slots are the
 * remote console's; only the EXT slots mount a URL (python-redfish-lenovo;
 * Ansible's redfish_utils skips the other two for Lenovo).
 */
const NOT_FOR_URLS = /^(RDOC|Remote)\d+$/;

/** 3 = declares CD/DVD, 2 = declares nothing (tried after those), 1 = an XCC slot that takes no URL, 0 = floppy/USB stick only. */
function cdRank(slotPath: string, slot: JsonObject): number {
  if (NOT_FOR_URLS.test(stringAt(slot, 'Id') ?? lastSegment(slotPath))) return 1;
  const types = stringsAt(slot, 'MediaTypes');
  if (!types || types.length === 0) return 2;
  return types.some((type) => type === 'CD' || type === 'DVD') ? 3 : 0;
}

function linkList(links: JsonObject | undefined, key: string): string[] {
  return arrayAt(links, key)
    .map(odataId)
    .filter((path): path is string => path !== undefined)
    .slice(0, MAX_LINKED);
}

function lastSegment(path: string): string {
  return path.replace(/\/+$/, '').split('/').pop() ?? '';
}
