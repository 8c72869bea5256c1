import type { HostTimings } from '../host/host.js';

/** IPMI privilege levels (IPMI v2.0 §6.8). */
export type Privilege = 'callback' | 'user' | 'operator' | 'administrator';

export const PRIVILEGE_LEVEL: Record<Privilege, number> = { callback: 1, user: 2, operator: 3, administrator: 4 };

export interface BmcUser {
  name: string;
  password: string;
  privilege: Privilege;
}

/** Where Redfish puts VirtualMedia and how strict it is (DSP0266; vendor habits from sushy/iDRAC notes). */
export type RedfishFlavour = 'openbmc' | 'supermicro' | 'dmtf';

/**
 * Per-BMC fault injection. Everything defaults to "well-behaved"; a fleet
 * config or `startFleet({ faults })` turns individual knobs on.
 */
export interface BmcFaults {
  /** Drop this percentage of inbound and outbound IPMI datagrams. */
  udpLossPercent: number;
  /** Hold back this percentage of outbound datagrams so they overtake each other. */
  udpReorderPercent: number;
  /** Added one-way latency for every outbound IPMI datagram. */
  udpLatencyMs: number;
  /** Never answer this RAKP message: 2 = swallow RAKP 1, 4 = swallow RAKP 3. */
  dropRakpReply: 2 | 4 | undefined;
  /** Advertise and accept only cipher suites 0–3 (old BMCs, e.g. Dell R710). */
  noSuite17: boolean;
  /** Answer only IPMI v1.5 (no RMCP+): Get Channel Auth Caps without the v2 bit. */
  v15Only: boolean;
  /** Redfish VirtualMedia under Managers/{id} (OpenBMC, iLO, old iDRAC) or Systems/{id} (DMTF, new iDRAC). */
  virtualMediaLocation: 'managers' | 'systems';
  /** supermicro: boot virtual media needs `UsbCd`, InsertMedia refuses Inserted/WriteProtected. */
  redfishFlavour: RedfishFlavour;
  /** VirtualMedia has no InsertMedia/EjectMedia actions: PATCH Image/Inserted instead (Lenovo SD530). */
  virtualMediaPatchOnly: boolean;
  /** Redfish session tokens die this long after creation (0 = idle timeout only): 401 mid-session. */
  sessionExpiryMs: number;
  /** The SOL payload is already active on a phantom session: Activate Payload answers 0x80. */
  solHeldByOtherSession: boolean;
  /**
   * Redfish ComputerSystem.Reset answers 204 at once but takes effect this
   * many ms later, drawn per reset between min and max from the BMC's seed
   * (an emulator measured 1–11 s). 0/0 = at once.
   */
  resetDelayMinMs: number;
  resetDelayMaxMs: number;
  /**
   * A static mockup's VirtualMedia: no InsertMedia/EjectMedia, and a PATCH of
   * Image/Inserted is stored as JSON and answered 204 without fetching a byte
   * (ConnectedVia stays NotConnected; the host never sees a CD).
   */
  virtualMediaStoresPatch: boolean;
  /** BootSourceOverrideEnabled "Once" is kept as "Continuous" (and never cleared by a boot). */
  ignoresBootOnce: boolean;
  /** `Systems/{Name}` answers 301 to `Systems/{Id}`: the system can be addressed by its name through a redirect. */
  systemsByNameRedirect: boolean;
  /** Open Session for any suite is answered with status 0 and suite 3's algorithms (BMCs that pick their own suite). */
  answerSuite3: boolean;
  /** No Get Payload Instance Info (App 0x4B): completion code 0xC1, as on BMCs that skip the optional command. */
  noPayloadInstanceInfo: boolean;
  /** A SEL but no SDR repository: SDR commands answer 0xC1 and Get Device ID clears the SDR-repository bit. */
  noSdrRepository: boolean;
  /** No FRU inventory device: the FRU commands answer 0xC1, Get Device ID clears the FRU-inventory bit. */
  noFru: boolean;
}

export const DEFAULT_FAULTS: BmcFaults = {
  udpLossPercent: 0,
  udpReorderPercent: 0,
  udpLatencyMs: 0,
  dropRakpReply: undefined,
  noSuite17: false,
  v15Only: false,
  virtualMediaLocation: 'managers',
  redfishFlavour: 'openbmc',
  virtualMediaPatchOnly: false,
  sessionExpiryMs: 0,
  solHeldByOtherSession: false,
  resetDelayMinMs: 0,
  resetDelayMaxMs: 0,
  virtualMediaStoresPatch: false,
  ignoresBootOnce: false,
  systemsByNameRedirect: false,
  answerSuite3: false,
  noPayloadInstanceInfo: false,
  noSdrRepository: false,
  noFru: false,
};

export interface BmcConfig {
  id: string;
  hostname: string;
  users: BmcUser[];
  /** RFB password on the TCP port; undefined = security type None. */
  vncPassword: string | undefined;
  timings: Partial<HostTimings>;
  faults: BmcFaults;
  startPowered: boolean;
  /** Accept self-signed HTTPS certificates when downloading virtual media. */
  mediaAllowSelfSigned: boolean;
  /** Largest virtual media image InsertMedia will read. */
  mediaMaxBytes: number;
  /** Seconds of inactivity before a Redfish session or IPMI session dies. */
  sessionTimeoutSeconds: number;
  /** Deterministic per-BMC variation of sensors and GUIDs. */
  seed: number;
}

export const DEMO_USERS: BmcUser[] = [
  { name: 'admin', password: 'adminpass', privilege: 'administrator' },
  { name: 'operator', password: 'operpass', privilege: 'operator' },
  { name: 'viewer', password: 'viewpass', privilege: 'user' },
];

export function bmcConfig(id: string, overrides: Partial<Omit<BmcConfig, 'faults'>> & { faults?: Partial<BmcFaults> } = {}): BmcConfig {
  return {
    id,
    hostname: overrides.hostname ?? id,
    users: overrides.users ?? DEMO_USERS,
    vncPassword: overrides.vncPassword,
    timings: overrides.timings ?? {},
    faults: { ...DEFAULT_FAULTS, ...overrides.faults },
    startPowered: overrides.startPowered ?? true,
    mediaAllowSelfSigned: overrides.mediaAllowSelfSigned ?? true,
    mediaMaxBytes: overrides.mediaMaxBytes ?? 8 * 1024 ** 3,
    sessionTimeoutSeconds: overrides.sessionTimeoutSeconds ?? 60,
    seed: overrides.seed ?? 1,
  };
}
