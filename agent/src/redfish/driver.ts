import type { BmcLinkStatus, BootOverride, BootRequest, BootResult, PowerAction, PowerResult, SelList, SensorList, ServerIdentity } from '@lightsout/shared';
import { LightsoutError } from '@lightsout/shared';
import type { Agent } from 'undici';
import type { BmcDriver } from '../drivers/types.js';
import type { VirtualMediaDriver, VirtualMediaSlotState } from '../media/types.js';
import { setBootOverride, bootOverrideOf } from './boot.js';
import type { RedfishClient } from './client.js';
import { type RedfishTopology, discoverTopology } from './discovery.js';
import { clearEventLog, findEventLog, readEventLog } from './event-log.js';
import { readIdentity } from './identity.js';
import { powerStateOf, resetSystem } from './power.js';
import type { VirtualMediaQuirkName } from './quirks/index.js';
import { readSensors } from './sensors.js';
import { ejectMedia, insertMedia, readSlot } from './virtual-media.js';

/**
 * BmcDriver over Redfish, plus virtual media. The topology is discovered on
 * first use and again when a cached path stops existing (firmware update).
 */
export interface RedfishDriverParts {
  client: RedfishClient;
  dispatcher: Agent;
  bmcHost: string;
  systemId?: string;
  quirks?: readonly VirtualMediaQuirkName[];
  insertSettleMs?: number;
}

export class RedfishDriver implements BmcDriver, VirtualMediaDriver {
  readonly protocol = 'redfish' as const;
  readonly bmcHost: string;
  private readonly client: RedfishClient;
  private readonly dispatcher: Agent;
  private readonly systemId: string | undefined;
  private readonly insertSettleMs: number | undefined;
  private topology: Promise<RedfishTopology> | undefined;
  private learnedQuirks: VirtualMediaQuirkName[];
  private closed = false;

  constructor(parts: RedfishDriverParts) {
    this.client = parts.client;
    this.dispatcher = parts.dispatcher;
    this.bmcHost = parts.bmcHost;
    this.systemId = parts.systemId;
    this.insertSettleMs = parts.insertSettleMs;
    this.learnedQuirks = [...(parts.quirks ?? [])];
  }

  /** Credentials rejected (the shared credential gate holds off logins), or the protocol once logged in. */
  linkStatus(): BmcLinkStatus {
    const rejection = this.client.credentialGate.rejection;
    if (rejection !== undefined) return { credentials: 'rejected', retryAt: new Date(rejection.retryAt).toISOString() };
    return this.client.authMode === 'session' || this.client.authMode === 'basic' ? { protocol: 'redfish' } : {};
  }

  /** An admin fixed the credentials (or the configuration changed): the next request logs in at once. */
  retryCredentials(): void {
    this.client.credentialGate.retryNow();
  }

  /** The quirks this BMC needed for its last successful InsertMedia. */
  get quirks(): readonly VirtualMediaQuirkName[] {
    return this.learnedQuirks;
  }

  async powerGet(): Promise<PowerResult> {
    return this.withTopology(async ({ systemPath }) => ({ power: powerStateOf((await this.client.get(systemPath)).body) }));
  }

  async powerSet(action: PowerAction): Promise<PowerResult> {
    return this.withTopology(async ({ systemPath }) => {
      const { via, sawOff } = await resetSystem(this.client, systemPath, action);
      // A cycle in two (ForceOff, On) saw its off phase; the relay, told "off", then waits for on alone.
      if (sawOff) return { power: 'off', via };
      // read at once, so usually the state from before: the relay confirms the action by polling
      return { power: powerStateOf((await this.client.get(systemPath)).body), via };
    });
  }

  async bootGet(): Promise<BootOverride> {
    return this.withTopology(async ({ systemPath }) => bootOverrideOf((await this.client.get(systemPath)).body));
  }

  async bootSet(override: BootRequest): Promise<BootResult> {
    return this.withTopology(({ systemPath }) => setBootOverride(this.client, systemPath, override));
  }

  async sensors(): Promise<SensorList> {
    return this.withTopology(async ({ chassisPaths }) => ({ sensors: await readSensors(this.client, chassisPaths) }));
  }

  async identity(): Promise<ServerIdentity> {
    return this.withTopology((topology) => readIdentity(this.client, topology));
  }

  async sel(): Promise<SelList> {
    return this.withTopology(async (topology) => ({ entries: await readEventLog(this.client, await findEventLog(this.client, ownersOf(topology))) }));
  }

  async selClear(): Promise<void> {
    return this.withTopology(async (topology) => clearEventLog(this.client, await findEventLog(this.client, ownersOf(topology))));
  }

  async mediaInsert(imageUrl: string): Promise<{ quirks: string[]; slot: VirtualMediaSlotState }> {
    return this.withTopology(async (topology) => {
      const slotPath = slotOf(topology);
      const quirks = await insertMedia(this.client, slotPath, imageUrl, {
        quirks: this.learnedQuirks,
        ...(this.insertSettleMs !== undefined ? { settleMs: this.insertSettleMs } : {}),
      });
      this.learnedQuirks = quirks;
      return { quirks, slot: await readSlot(this.client, slotPath) };
    });
  }

  /** Boot-once from the virtual CD (UsbCd where the BMC has it, else Cd), keeping the BMC's boot mode. */
  async mediaBootOnce(): Promise<BootResult> {
    return this.withTopology(({ systemPath }) => setBootOverride(this.client, systemPath, { device: 'cd', persistent: false }, true));
  }

  async mediaEject(): Promise<VirtualMediaSlotState> {
    return this.withTopology((topology) => ejectMedia(this.client, slotOf(topology), this.insertSettleMs));
  }

  async mediaGet(): Promise<VirtualMediaSlotState> {
    return this.withTopology((topology) => readSlot(this.client, slotOf(topology)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.client.close();
    } finally {
      await this.dispatcher.close();
    }
  }

  private async withTopology<T>(work: (topology: RedfishTopology) => Promise<T>): Promise<T> {
    if (this.closed) throw new LightsoutError('INTERNAL', 'Redfish driver used after close');
    this.topology ??= discoverTopology(this.client, this.systemId);
    let topology: RedfishTopology;
    try {
      topology = await this.topology;
    } catch (error) {
      this.topology = undefined; // a failed discovery is retried on the next call
      throw error;
    }
    try {
      return await work(topology);
    } catch (error) {
      if (error instanceof LightsoutError && error.details?.status === 404) {
        // paths moved (firmware update): rediscover once
        this.topology = discoverTopology(this.client, this.systemId);
        return work(await this.topology);
      }
      throw error;
    }
  }
}

function ownersOf(topology: RedfishTopology): string[] {
  return [topology.systemPath, ...topology.managerPaths];
}

function slotOf(topology: RedfishTopology): string {
  const slot = topology.virtualMediaPaths[0];
  if (!slot) throw new LightsoutError('BMC_UNSUPPORTED', 'this BMC offers no Redfish VirtualMedia slot that takes a CD image');
  return slot;
}
