import type { BootOverride, BootRequest, BootResult, CredentialsRetryResult, PowerAwaitParams, PowerAwaitResult, PowerResult, SelList, SensorHistory, SensorList, ServerIdentity } from '../schemas/operations.js';
import type { PowerAction } from '../schemas/server.js';
import type { MediaDiscardParams, MediaDiscardResult, MediaEjectParams, MediaEjectResult, MediaFetchParams, MediaFetchResult, MediaFetchUrlParams, MediaFetchUrlResult, AgentMediaJob, MediaMountParams, MediaStatusParams, MediaStatusResult } from '../schemas/media.js';
import type { DiscoveryAdoptParams, DiscoveryAdoptResult, DiscoveryScanResult, ServerAssignParams, ServerAssignResult } from './messages.js';
import type { StreamCloseParams, StreamOpenParams, StreamOpenResult } from '../streams/session.js';

/**
 * The operations a relay may ask an agent to perform (control `request.op`),
 * with their params and results. The agent dispatches on `op`; an op it does
 * not know is answered with BMC_UNSUPPORTED, never silently ignored.
 */
export interface ControlOperations {
  'power.get': { params: { serverId: string }; result: PowerResult };
  'power.set': { params: { serverId: string; action: PowerAction }; result: PowerResult };
  /** Read the power state on the agent until the target of an accepted action is seen (schemas/operations.ts). */
  'power.await': { params: PowerAwaitParams; result: PowerAwaitResult };
  'boot.get': { params: { serverId: string }; result: BootOverride };
  'boot.set': { params: { serverId: string } & BootRequest; result: BootResult };
  'sensors.list': { params: { serverId: string }; result: SensorList };
  /** The readings the agent kept for the server (every sensors.list it answered), oldest first. */
  'sensors.history': { params: { serverId: string }; result: SensorHistory };
  /** What the BMC says the machine is (vendor, model, serial, BMC firmware, BIOS version) where it reports them. */
  'identity.get': { params: { serverId: string }; result: ServerIdentity };
  'sel.list': { params: { serverId: string }; result: SelList };
  'sel.clear': { params: { serverId: string }; result: Record<string, never> };
  /** Log in at once although the BMC rejected the credentials before (an admin fixed them on the BMC). */
  'credentials.retry': { params: { serverId: string }; result: CredentialsRetryResult };
  /** Stream plane (docs/streams.md): dial back a data connection for a console session leg. */
  'stream.open': { params: StreamOpenParams; result: StreamOpenResult };
  'stream.close': { params: StreamCloseParams; result: Record<string, never> };
  /**
   * A provider admin moved the server to `tenant`: the agent ends every console session of any other
   * tenant on it (and its shared console, so no scrollback crosses over) and from now on opens
   * sessions for `tenant` only. Also sent in inventory-ack `assigned` after every connect.
   */
  'server.assign': { params: ServerAssignParams; result: ServerAssignResult };
  /** Virtual media (docs/virtual-media.md): pull an image from the relay into the agent's cache. */
  'media.fetch': { params: MediaFetchParams; result: MediaFetchResult };
  /** Fetch an image by URL into the agent's cache (the tenant's URL policy travels with it); poll media.status with fetchId. */
  'media.fetch-url': { params: MediaFetchUrlParams; result: MediaFetchUrlResult };
  'media.status': { params: MediaStatusParams; result: MediaStatusResult };
  /** Start mounting a cached image on the server's BMC; with `boot`, then boot-once to CD and reset or power on. Poll media.status. */
  'media.mount': { params: MediaMountParams; result: AgentMediaJob };
  'media.eject': { params: MediaEjectParams; result: MediaEjectResult };
  /** The relay no longer has this upload: stop pulling it and drop its partial file (docs/virtual-media.md). */
  'media.discard': { params: MediaDiscardParams; result: MediaDiscardResult };
  /** Discovery (docs/operations.md): scan the configured ranges now; the findings follow as a `discovered` message. */
  'discovery.scan': { params: Record<string, never>; result: DiscoveryScanResult };
  /** Adopt a BMC the last scan found: the agent persists it in its state dir and sends its inventory again. */
  'discovery.adopt': { params: DiscoveryAdoptParams; result: DiscoveryAdoptResult };
}

export type ControlOperation = keyof ControlOperations;
export type OperationParams<Op extends ControlOperation> = ControlOperations[Op]['params'];
export type OperationResult<Op extends ControlOperation> = ControlOperations[Op]['result'];
