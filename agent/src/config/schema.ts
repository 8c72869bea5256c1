import Type, { type Static } from 'typebox';
import { SLUG_PATTERN } from '@lightsout/shared';

/**
 * The agent's YAML configuration file. Credentials are named by reference
 * (an environment variable or a file) so the file itself can be committed to
 * configuration management without secrets in it.
 */
const Slug = Type.String({ pattern: SLUG_PATTERN, minLength: 1, maxLength: 63 });
const RelayUrl = Type.String({ pattern: '^https?://', maxLength: 2048 });

/** Exactly one of passwordEnv / passwordFile; checked in load.ts so the error names the entry. */
export const CredentialsReference = Type.Object(
  {
    id: Slug,
    username: Type.String({ minLength: 1, maxLength: 64 }),
    passwordEnv: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: 255 })),
    passwordFile: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * IPv4 CIDRs an adopted BMC must be in to be sent this set (docs/security.md, "What the agent trusts
     * its gateways with"); absent = any address of the discovery ranges the relay names.
     */
    ranges: Type.Optional(Type.Array(Type.String({ minLength: 9, maxLength: 18 }), { minItems: 1, maxItems: 256 })),
    /** Adopted BMCs with no IPMI v2.0 may log in with v1.5 (an MD5 hash of the password on the wire). */
    allowIpmiV15: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CredentialsReference = Static<typeof CredentialsReference>;

export const IpmiPrivilege = Type.Union([Type.Literal('user'), Type.Literal('operator'), Type.Literal('administrator')]);
export type IpmiPrivilege = Static<typeof IpmiPrivilege>;

export const IpmiEndpointConfig = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 253 }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535 })),
    /** The `id` of an entry under `credentials`. */
    credentials: Slug,
    cipherSuite: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal(3), Type.Literal(17)])),
    privilege: Type.Optional(IpmiPrivilege),
    /** Names from the IPMI driver's quirk table (docs/ipmi.md). */
    quirks: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 })),
  },
  { additionalProperties: false },
);

export const RedfishEndpointConfig = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', maxLength: 2048 }),
    credentials: Slug,
    /** The ComputerSystem Id when the BMC manages several. */
    systemId: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    /** Names from the Redfish driver's quirk table (docs/redfish.md). */
    quirks: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 })),
    tls: Type.Optional(
      Type.Object(
        {
          /** Skip certificate verification (BMCs often ship self-signed certificates). */
          insecure: Type.Optional(Type.Boolean()),
          /** Path to a PEM CA bundle to trust for this BMC. */
          caFile: Type.Optional(Type.String({ minLength: 1 })),
          /** SHA-256 fingerprint of the BMC's certificate (hex, colons allowed): pin it. */
          fingerprint256: Type.Optional(Type.String({ pattern: '^[0-9A-Fa-f:]{64,95}$' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const VncEndpointConfig = Type.Object(
  { url: Type.String({ minLength: 1, maxLength: 2048 }), credentials: Type.Optional(Slug) },
  { additionalProperties: false },
);

export const SerialEndpointConfig = Type.Object(
  // ws(s):// = OpenBMC-style /console0; tcp:// = a raw serial console server (ser2net, terminal servers).
  { url: Type.String({ pattern: '^(wss?|tcp)://', maxLength: 2048 }), credentials: Type.Optional(Slug) },
  { additionalProperties: false },
);

/**
 * The BMC's own web UI (iDRAC, iLO, OpenBMC's webui): an origin, no path.
 * `tls` as Redfish's; absent, the server's `redfish.tls` applies (one BMC,
 * one certificate), else trust on first use.
 */
export const WebEndpointConfig = Type.Object(
  { url: Type.String({ pattern: '^https?://[^/?#]+/?$', maxLength: 2048 }), tls: Type.Optional(RedfishEndpointConfig.properties.tls) },
  { additionalProperties: false },
);

export const ServerConfig = Type.Object(
  {
    id: Slug,
    name: Type.String({ minLength: 1, maxLength: 255 }),
    tenant: Slug,
    rack: Slug,
    labels: Type.Optional(Type.Record(Type.String({ maxLength: 63 }), Type.String({ maxLength: 255 }), { maxProperties: 64 })),
    ipmi: Type.Optional(IpmiEndpointConfig),
    redfish: Type.Optional(RedfishEndpointConfig),
    vnc: Type.Optional(VncEndpointConfig),
    serial: Type.Optional(SerialEndpointConfig),
    web: Type.Optional(WebEndpointConfig),
  },
  { additionalProperties: false },
);

export const AgentConfigFile = Type.Object(
  {
    /** Base URL of the relay, e.g. `https://relay.example.net`: one gateway (or one name resolving to several). */
    relay: Type.Optional(RelayUrl),
    /** The gateways of this agent's region, tried in turn: the agent fails over to the next one within seconds. */
    relays: Type.Optional(Type.Array(RelayUrl, { minItems: 1, maxItems: 16 })),
    /** Allow plain http:// to a relay that is not on loopback (load.ts refuses it otherwise). */
    allowInsecureRelay: Type.Optional(Type.Boolean()),
    name: Type.String({ minLength: 1, maxLength: 255 }),
    /** Holds the agent's private key and identity (created 0700). */
    stateDir: Type.String({ minLength: 1 }),
    joinToken: Type.Optional(Type.String({ minLength: 16, maxLength: 512 })),
    joinTokenFile: Type.Optional(Type.String({ minLength: 1 })),
    log: Type.Optional(
      Type.Object(
        { level: Type.Optional(Type.Union(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].map((level) => Type.Literal(level)))) },
        { additionalProperties: false },
      ),
    ),
    /** Tuning; the defaults suit production. */
    control: Type.Optional(
      Type.Object(
        {
          backoffBaseMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 60_000 })),
          backoffCapMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 600_000 })),
          /** TCP connect + upgrade + welcome of one attempt; past it the next gateway is tried. */
          connectTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })),
          stableAfterMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
          requestTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000 })),
        },
        { additionalProperties: false },
      ),
    ),
    poll: Type.Optional(
      Type.Object(
        {
          intervalMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 3_600_000 })),
          concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
          /** Background sensor sampling into the sensor history: ms between passes, 0 = off (docs/operations.md). */
          sensorsIntervalMs: Type.Optional(Type.Union([Type.Literal(0), Type.Integer({ minimum: 1000, maximum: 86_400_000 })])),
          /** Sensor reads at once during a pass. */
          sensorsConcurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
          /** Servers whose sensor history is kept (memory: docs/operations.md "Sensor history"). */
          sensorsHistoryServers: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
        },
        { additionalProperties: false },
      ),
    ),
    /**
     * /healthz, /readyz and /metrics (docs/operations.md); off unless set. `port` alone listens on
     * 127.0.0.1: the endpoints need no login.
     */
    metrics: Type.Optional(
      Type.Object(
        { listen: Type.Union([Type.Integer({ minimum: 0, maximum: 65_535 }), Type.String({ pattern: '^(\\[?[^\\]]+\\]?:)?\\d{1,5}$', maxLength: 300 })]) },
        { additionalProperties: false },
      ),
    ),
    /** Virtual media: the image cache and the server BMCs fetch images from (docs/virtual-media.md). */
    media: Type.Optional(
      Type.Object(
        {
          /** host:port on the out-of-band network, reachable by the BMCs. */
          listen: Type.Optional(Type.String({ pattern: '^\\[?[^\\]]+\\]?:\\d{1,5}$', maxLength: 300 })),
          /** Base URL the BMCs use when NAT sits between them and `listen`. */
          publicUrl: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 2048 })),
          cacheBytes: Type.Optional(Type.Integer({ minimum: 0 })),
          urlTtlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 7 * 86_400 })),
          /** 0 = never eject automatically. */
          autoEjectSeconds: Type.Optional(Type.Integer({ minimum: 0 })),
        },
        { additionalProperties: false },
      ),
    ),
    /**
     * BMC discovery (docs/operations.md): the agent scans these ranges, and only these, and reports what
     * answers to the relay; an admin adopts what it wants (servers persist in stateDir).
     */
    discovery: Type.Optional(
      Type.Object(
        {
          /** IPv4 CIDRs, each /16 or narrower. */
          ranges: Type.Array(Type.String({ minLength: 9, maxLength: 18 }), { minItems: 1, maxItems: 256 }),
          /** Seconds between scheduled scans; 0 = only on demand. */
          intervalSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 7 * 86_400 })),
          /** Datagrams and connection attempts per second, all protocols together. */
          probesPerSecond: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
          /** Addresses probed at once. */
          concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096 })),
          timeoutMs: Type.Optional(Type.Integer({ minimum: 50, maximum: 30_000 })),
          retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 5 })),
          ipmiPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535 })),
          redfishPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535 })),
          protocols: Type.Optional(Type.Array(Type.Union([Type.Literal('ipmi'), Type.Literal('redfish')]), { minItems: 1, maxItems: 2, uniqueItems: true })),
        },
        { additionalProperties: false },
      ),
    ),
    credentials: Type.Optional(Type.Array(CredentialsReference, { maxItems: 10_000 })),
    /** Servers pinned by this file; adopted ones come on top of these (a YAML id wins over an adopted one). */
    servers: Type.Optional(Type.Array(ServerConfig, { maxItems: 10_000 })),
  },
  { additionalProperties: false },
);
export type AgentConfigFile = Static<typeof AgentConfigFile>;
export type ServerConfig = Static<typeof ServerConfig>;
