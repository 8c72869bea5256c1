import Type, { type Static } from 'typebox';
import { Slug } from './server.js';

/**
 * A BMC the agent found by scanning the ranges its config names, before an
 * admin adopts it (docs/operations.md, "Discovery"). Everything here is what
 * the BMC says without a login: the ASF pong and Get Channel Authentication
 * Capabilities (IPMI v2.0 §13.2.3, §22.13), Get System GUID (§22.14) and the
 * Redfish service root (DSP0266 §10.2: UUID, Vendor, Product). A serial
 * number needs a login, which discovery never does.
 */
const Ipv4Address = Type.String({ pattern: '^(\\d{1,3}\\.){3}\\d{1,3}$', maxLength: 15 });
const Text = (maxLength: number) => Type.String({ maxLength });
const Port = Type.Integer({ minimum: 1, maximum: 65_535 });

export const DiscoveredIpmi = Type.Object(
  {
    port: Port,
    /** Answered the ASF presence ping (DMTF ASF 2.0 §3.2.4). */
    asf: Type.Boolean(),
    ipmi15: Type.Boolean(),
    ipmi20: Type.Boolean(),
    /** The v1.5 authentication types the channel offers: none, md2, md5, straight, oem. */
    authTypes: Type.Array(Text(16), { maxItems: 8 }),
    /** Get System GUID as 8-4-4-4-12 hex; absent when the BMC does not answer it outside a session. */
    guid: Type.Optional(Text(36)),
  },
  { additionalProperties: false },
);
export type DiscoveredIpmi = Static<typeof DiscoveredIpmi>;

export const DiscoveredRedfish = Type.Object(
  {
    port: Port,
    uuid: Type.Optional(Text(64)),
    vendor: Type.Optional(Text(255)),
    product: Type.Optional(Text(255)),
    redfishVersion: Type.Optional(Text(32)),
    /** SHA-256 of the certificate the service root came with (lower-case hex): adoption pins it. */
    fingerprint256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  },
  { additionalProperties: false },
);
export type DiscoveredRedfish = Static<typeof DiscoveredRedfish>;

export const DiscoveryProtocol = Type.Union([Type.Literal('ipmi'), Type.Literal('redfish')]);
export type DiscoveryProtocol = Static<typeof DiscoveryProtocol>;

export const DiscoveredBmc = Type.Object(
  {
    address: Ipv4Address,
    protocols: Type.Array(DiscoveryProtocol, { minItems: 1, maxItems: 2 }),
    ipmi: Type.Optional(DiscoveredIpmi),
    redfish: Type.Optional(DiscoveredRedfish),
  },
  { additionalProperties: false },
);
export type DiscoveredBmc = Static<typeof DiscoveredBmc>;

/** What identifies a BMC across address changes: the Redfish UUID, else the IPMI GUID; none: only its address. */
export function identityOf(bmc: DiscoveredBmc): string | undefined {
  const uuid = bmc.redfish?.uuid ?? bmc.ipmi?.guid;
  return uuid === undefined ? undefined : uuid.toLowerCase();
}

/** The relay's record of a discovered BMC (GET /v1/discovered). */
export const DiscoveredBmcView = Type.Object({
  id: Type.String(),
  agentId: Type.String(),
  agentName: Type.String(),
  address: Type.String(),
  /** The address before the last scan that found this BMC elsewhere (matched by UUID or GUID). */
  previousAddress: Type.Optional(Type.String()),
  protocols: Type.Array(DiscoveryProtocol),
  vendor: Type.Optional(Type.String()),
  model: Type.Optional(Type.String()),
  uuid: Type.Optional(Type.String()),
  guid: Type.Optional(Type.String()),
  ipmi: Type.Optional(DiscoveredIpmi),
  redfish: Type.Optional(DiscoveredRedfish),
  firstSeenAt: Type.String({ format: 'date-time' }),
  lastSeenAt: Type.String({ format: 'date-time' }),
  /** Set once adopted: the server it became. */
  adoptedServerId: Type.Optional(Type.String()),
});
export type DiscoveredBmcView = Static<typeof DiscoveredBmcView>;

export const DiscoveredList = Type.Object({ discovered: Type.Array(DiscoveredBmcView) });
export type DiscoveredList = Static<typeof DiscoveredList>;

/** POST /v1/discovered/adopt: the credentials reference names a credential set in the agent's config, never a secret. */
export const AdoptRequest = Type.Object(
  {
    /** The discovered BMC's id (from GET /v1/discovered), or its address with `agentId`. */
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    address: Type.Optional(Ipv4Address),
    agentId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    serverId: Type.Optional(Slug),
    name: Type.String({ minLength: 1, maxLength: 255 }),
    tenant: Slug,
    rack: Type.Optional(Slug),
    credentials: Slug,
  },
  { additionalProperties: false },
);
export type AdoptRequest = Static<typeof AdoptRequest>;
export const AdoptResult = Type.Object({ serverId: Type.String(), agentId: Type.String(), address: Type.String() });
export type AdoptResult = Static<typeof AdoptResult>;

export const ScanRequest = Type.Object({ agentId: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });
export const ScanStarted = Type.Object({ agentId: Type.String(), scanId: Type.String() });
export type ScanStarted = Static<typeof ScanStarted>;
