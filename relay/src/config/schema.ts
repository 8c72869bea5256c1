import Type, { type Static } from 'typebox';

/**
 * The relay's configuration, as a YAML file plus environment overrides
 * (see load.ts). Every key has a default that runs the embedded single-node
 * setup on loopback, so an empty file is a valid configuration.
 */
const Listen = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    /** 0 picks a free port (tests). */
    port: Type.Integer({ minimum: 0, maximum: 65_535, default: 8080 }),
    /**
     * Connections the kernel queues before the relay accepts them (listen(2);
     * capped by net.core.somaxconn). Node's default of 511 overflows under a
     * burst of ~1,000 connections, and the kernel then drops new connections'
     * SYNs — everyone's, not only the burst's — which clients retry after 1, 3, 7 s.
     */
    backlog: Type.Integer({ minimum: 1, maximum: 65_535, default: 2048 }),
  },
  { additionalProperties: false, default: {} },
);

const Store = Type.Object(
  {
    driver: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')], { default: 'sqlite' }),
    /** SQLite file; relative paths are resolved against dataDir. */
    sqliteFile: Type.String({ minLength: 1, default: 'relay.sqlite' }),
    /** PostgreSQL connection string, e.g. postgres://user@127.0.0.1:5432/lightsout. */
    postgresUrl: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * Where console recordings are kept: `directory` (dataDir/recordings, this replica's disk) or `database`
     * (the store, which every replica reads). Default: directory for role all, database for managers and gateways.
     */
    recordings: Type.Optional(Type.Union([Type.Literal('directory'), Type.Literal('database')])),
    /**
     * Bytes one console recording holds at most; default 1 GiB (DEFAULT_RECORDING_MAX_BYTES). Past it the
     * session goes on unrecorded: without a limit one console printing without end fills dataDir, the SQLite
     * store's disk too. Also the largest recording a download renders, as downloads are rendered in memory.
     */
    recordingMaxBytes: Type.Optional(Type.Integer({ minimum: 1 })),
    /**
     * Bytes one tenant's recordings hold at most, together; default 64 GiB (DEFAULT_RECORDING_TENANT_MAX_BYTES).
     * Past it the tenant's sessions go on unrecorded until retention frees room: one tenant's consoles must not
     * fill the disk every tenant's recordings share.
     */
    recordingTenantMaxBytes: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false, default: {} },
);

const ClaimsMapping = Type.Object(
  {
    tenant: Type.String({ minLength: 1, default: 'tenant' }),
    role: Type.String({ minLength: 1, default: 'role' }),
    username: Type.String({ minLength: 1, default: 'preferred_username' }),
    /** Where the provider puts the sign-in time when not in `auth_time` (a dotted path); read after `auth_time`. */
    authTime: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false, default: {} },
);

const ExternalIssuer = Type.Object(
  {
    /** The issuer's `iss`; its discovery document is fetched from `${issuer}/.well-known/openid-configuration` unless discoveryUrl is set. */
    issuer: Type.String({ minLength: 1 }),
    discoveryUrl: Type.Optional(Type.String({ minLength: 1 })),
    clientId: Type.String({ minLength: 1, default: 'lightsout-web' }),
    cliClientId: Type.String({ minLength: 1, default: 'lightsout-cli' }),
    claims: ClaimsMapping,
    /**
     * Accepted JWT `typ` headers of access tokens. RFC 9068 says `at+jwt`; add
     * `JWT` for providers that send that (the audience check then keeps their
     * ID tokens out, so audience must not be one of the client ids).
     */
    accessTokenTypes: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, default: ['at+jwt'] }),
    /** Longest access-token lifetime (exp − iat) accepted from this issuer. */
    maxAccessTokenLifetimeSeconds: Type.Integer({ minimum: 60, maximum: 7 * 86_400, default: 86_400 }),
    /** Re-read the discovery document and JWKS this often; retries after a failure come sooner (backoff, at most this period). */
    keysRefreshSeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 300 }),
    /** The provider tenant, created at start if missing so the first provider admin (from the issuer's claims) can create the others. */
    providerTenant: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$', default: 'provider' }),
    /**
     * Count an access token's `iat` as the sign-in time when it carries no
     * `auth_time` (nor the claims.authTime claim). Sound only when the issuer
     * mints the Lightsout clients' access tokens at an interactive sign-in;
     * with refresh tokens a refresh counts as a sign-in (docs/security.md).
     */
    authTimeFromIssuedAt: Type.Boolean({ default: false }),
    /** `acr` values that mean a second factor was used (RFC 8176 `amr` is read as well). */
    mfaAcrValues: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  },
  { additionalProperties: false },
);

const Identity = Type.Object(
  {
    mode: Type.Union([Type.Literal('embedded'), Type.Literal('external')], { default: 'embedded' }),
    /** `aud` of API access tokens; default `${deploymentUrl}/v1`. */
    audience: Type.Optional(Type.String({ minLength: 1 })),
    accessTokenTtlSeconds: Type.Integer({ minimum: 30, maximum: 86_400, default: 900 }),
    refreshTokenTtlSeconds: Type.Integer({ minimum: 60, maximum: 31_536_000, default: 14 * 86_400 }),
    /** Seed the provider and demo tenants with an admin and an operator on first start (embedded mode only). */
    seedDemo: Type.Boolean({ default: true }),
    /**
     * RFC 7591 dynamic client registration at `/oidc/reg` for MCP clients (embedded mode): public,
     * loopback redirects, PKCE, tokens for the MCP endpoint only; at most `perHourPerAddress`
     * registrations from one address in an hour, each audited (docs/automation.md).
     */
    mcpClientRegistration: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        perHourPerAddress: Type.Integer({ minimum: 1, maximum: 10_000, default: 20 }),
        /** Registered clients kept at once (an unused one is deleted after a day): more registrations are refused (429). */
        maxClients: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Destructive actions (power off/cycle/reset, media mount, console takeover) need a sign-in at most this old (RFC 9470 max_age). */
    stepUpMaxAgeSeconds: Type.Integer({ minimum: 30, maximum: 86_400, default: 600 }),
    /**
     * The AES-256-GCM key that seals TOTP secrets in the database (embedded mode): a file
     * holding 32 random bytes, base64url, created on first start. Default `<dataDir>/totp.key`;
     * point it at a secret mount to keep it away from the database and its backups.
     */
    totpKeyFile: Type.Optional(Type.String({ minLength: 1 })),
    external: Type.Optional(ExternalIssuer),
  },
  { additionalProperties: false, default: {} },
);

/**
 * Prometheus metrics are served on a listener of their own, never on the
 * API's: they need no login, so they must not be reachable wherever the API
 * is. Off unless a port is given; loopback unless told otherwise.
 */
const Metrics = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    /** 0 picks a free port (tests). */
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65_535 })),
    /**
     * This replica's name in the `gateway` label of its own series (agents,
     * sessions, stream and upload bytes); default the host[:port] of
     * publicUrl, which is already unique per replica. A replica's id in the
     * store is random per start, so it would make a new series at every restart.
     */
    gateway: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$' })),
    /** Tenants with series of their own (the largest by servers); the rest are summed as tenant="other". */
    maxTenants: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
  },
  { additionalProperties: false, default: {} },
);

const Agents = Type.Object(
  {
    heartbeatIntervalMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 5000 }),
    /** An agent is offline after this many intervals without a heartbeat. */
    missedHeartbeats: Type.Integer({ minimum: 2, maximum: 100, default: 3 }),
    joinTokenTtlSeconds: Type.Integer({ minimum: 60, maximum: 86_400, default: 600 }),
    maxFrameBytes: Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024, default: 1024 * 1024 }),
    requestTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 15_000 }),
    /** The fleet overview's critical events: a server's event log read through its agent within this long is not read again. */
    eventLogMaxAgeSeconds: Type.Integer({ minimum: 1, maximum: 3600, default: 60 }),
    /**
     * `aud` of agent tokens: one value for the whole deployment (every
     * replica on the same store sets the same), so an agent enrolled through
     * one gateway connects to any of them. Default `${deploymentUrl}/agent`.
     */
    audience: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false, default: {} },
);

const Rate = (perSecond: number, burst: number) =>
  Type.Object(
    {
      /** Sustained operations per second. */
      perSecond: Type.Number({ exclusiveMinimum: 0, maximum: 100_000, default: perSecond }),
      /** Operations allowed at once before the rate applies. */
      burst: Type.Integer({ minimum: 1, maximum: 1_000_000, default: burst }),
    },
    { additionalProperties: false, default: {} },
  );

/** Fairness between tenants (docs/security.md, "Rate limits, fairness and wire bounds"). */
const Limits = Type.Object(
  {
    bmcOperations: Type.Object(
      {
        /** BMC operations (power, boot, sensors, SEL) one tenant may have in flight on this relay. */
        perTenant: Type.Integer({ minimum: 1, maximum: 100_000, default: 64 }),
        /** … and on one agent, which serves several tenants' BMCs. */
        perTenantPerAgent: Type.Integer({ minimum: 1, maximum: 100_000, default: 16 }),
        /** Rate per presented access or API token, checked before the token is verified. */
        perToken: Rate(20, 40),
        /** Rate per caller (a user or service account, all its tokens together). */
        perSubject: Rate(20, 100),
        /** Rate per tenant, all its callers together. */
        perTenantRate: Rate(50, 200),
      },
      { additionalProperties: false, default: {} },
    ),
    /**
     * HTTP and RPC requests from one client address in flight at once, counted before
     * Fastify runs (relay/src/http/client-requests.ts); 0 turns the bound off. WebSockets are not counted.
     */
    clientRequests: Type.Object(
      {
        perAddress: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 64 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Unauthenticated POST /v1/agents/enroll: failures per client address, then 429. */
    enrollment: Type.Object(
      {
        failuresPerAddress: Rate(0.1, 10),
        /** Failures are audited as the first per address per window, then one summed row per address at the window's end. */
        failureAuditWindowSeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 60 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

/**
 * What this replica does in a deployment (docs/deployment.md). `all` is the
 * single process; `manager` and `gateway` are replicas of one deployment that
 * share a PostgreSQL store and route agent requests to each other through it.
 */
export const RELAY_ROLES = ['all', 'manager', 'gateway'] as const;
export type RelayRole = (typeof RELAY_ROLES)[number];

/**
 * The SSH front door (relay/src/ssh): `ssh sim-01@relay` opens the serial
 * console with a key registered on the user's account. Off unless a port is
 * given. Failed authentications draw on a token bucket per client address.
 */
const Ssh = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    /** 0 picks a free port (tests). */
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65_535 })),
    failedAuthPerAddress: Rate(0.2, 20),
    /** A connection that has not authenticated this long after connecting is dropped (OpenSSH LoginGraceTime). */
    loginGraceSeconds: Type.Integer({ minimum: 1, maximum: 600, default: 30 }),
    /** Connections not yet authenticated, per client address and in all: one more is refused at once (OpenSSH MaxStartups). */
    unauthenticatedPerAddress: Type.Integer({ minimum: 1, maximum: 10_000, default: 10 }),
    unauthenticatedTotal: Type.Integer({ minimum: 1, maximum: 100_000, default: 100 }),
    /** Lifetime of the user certificates the relay's SSH CA signs (POST /v1/me/ssh-certificate, `lightsout ssh login`). */
    certificateTtlSeconds: Type.Integer({ minimum: 10, maximum: 86_400, default: 3600 }),
  },
  { additionalProperties: false, default: {} },
);

/**
 * The BMCs' own web UIs (session kind `web`, docs/operations.md "The BMC web
 * UI proxy"): served on a listener of their own, each session on an origin
 * of its own, `<session>.<domain>` — a wildcard DNS name (and certificate)
 * for `*.<domain>` points at this listener, usually through the TLS proxy in
 * front of the relay. Off unless a domain and a port are given.
 */
/** The longest a web session (and so its cookie, the longest-lived credential a relay signs) may last. */
export const MAX_WEB_SESSION_SECONDS = 86_400;

const WebUi = Type.Object(
  {
    /** The wildcard's parent name, e.g. `bmc.example.net` for `*.bmc.example.net`; `localhost` on a workstation (`*.localhost` is loopback). */
    domain: Type.Optional(Type.String({ pattern: '^(?=.{1,200}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$' })),
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    /** 0 picks a free port (tests). */
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65_535 })),
    /** How browsers reach the listener: `https` behind the TLS proxy (default); `http` only on loopback. */
    scheme: Type.Union([Type.Literal('https'), Type.Literal('http')], { default: 'https' }),
    /** The port in the sessions' URLs; default 443 for https, the listener's own port for http. */
    publicPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535 })),
    /** A web session ends with the user's session, and at the latest this long after it was opened. */
    maxSessionSeconds: Type.Integer({ minimum: 10, maximum: MAX_WEB_SESSION_SECONDS, default: 8 * 3600 }),
  },
  { additionalProperties: false, default: {} },
);

/** Fleet-wide bulk jobs (POST /v1/bulk; docs/automation.md). */
const Bulk = Type.Object(
  {
    /** A job's operations in flight on one agent; each also holds a slot of limits.bmcOperations.perTenantPerAgent, so keep it below that and the tenant's other callers keep the rest. */
    perAgentConcurrency: Type.Integer({ minimum: 1, maximum: 10_000, default: 8 }),
    /** A job's operations in flight across all agents (each also holds one of limits.bmcOperations.perTenant). */
    maxInFlight: Type.Integer({ minimum: 1, maximum: 100_000, default: 32 }),
    /** A destructive operation (power off, soft, cycle, reset) on more servers than this needs a person's recent sign-in, even from an API token. */
    stepUpAbove: Type.Integer({ minimum: 0, maximum: 100_000, default: 25 }),
    /** Most servers one job may resolve to. */
    maxServers: Type.Integer({ minimum: 1, maximum: 10_000, default: 5000 }),
    /** Jobs one tenant may have running at once on this relay. */
    maxRunningJobsPerTenant: Type.Integer({ minimum: 1, maximum: 1000, default: 4 }),
    /** How long a finished job's results stay readable. */
    keepFinishedSeconds: Type.Integer({ minimum: 1, maximum: 604_800, default: 3600 }),
    /** Waits between a job's power-state reads when confirming an action; a cycle's off phase must fall between two of them. */
    confirmIntervalsMs: Type.Array(Type.Integer({ minimum: 50, maximum: 60_000 }), { minItems: 1, maxItems: 32, default: [250, 250, 250, 250, 500, 500, 1000, 2000, 5000] }),
  },
  { additionalProperties: false, default: {} },
);

const SinkTls = {
  /** PEM file of the CAs that sign the receiver's certificate; default the system's. The certificate is always verified. */
  caFile: Type.Optional(Type.String({ minLength: 1 })),
  /** Client certificate and key (PEM files) for receivers that require mutual TLS. */
  certFile: Type.Optional(Type.String({ minLength: 1 })),
  keyFile: Type.Optional(Type.String({ minLength: 1 })),
};

const SinkCommon = {
  /** The sink's name: its delivery cursor in the store is kept under it, so renaming a sink starts it again. */
  name: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' }),
  /** Where a new sink starts: the whole chain (`beginning`), or only what is appended from now on (`end`). */
  startAt: Type.Union([Type.Literal('beginning'), Type.Literal('end')], { default: 'beginning' }),
};

const SyslogSink = Type.Object(
  {
    ...SinkCommon,
    type: Type.Literal('syslog'),
    /** `tls://host:6514` (RFC 5425) or `tcp://host:port` (RFC 6587, octet-counted frames). */
    url: Type.String({ pattern: '^(tcp|tls)://[^/]+:[0-9]+$' }),
    ...SinkTls,
    /** The name the receiver's certificate must carry, when it is not the URL's host. */
    serverName: Type.Optional(Type.String({ minLength: 1 })),
    /** RFC 5424 facility; 13 is "log audit". */
    facility: Type.Integer({ minimum: 0, maximum: 23, default: 13 }),
    appName: Type.String({ pattern: '^[\\x21-\\x7e]{1,48}$', default: 'lightsout' }),
    /** SD-ID of the structured data: NAME@<private enterprise number> (RFC 5424 §7.2.2); 32473 is the number reserved for documentation (RFC 5612), so set your own. */
    sdId: Type.String({ pattern: '^[\\x21\\x23-\\x3c\\x3e-\\x5c\\x5e-\\x7e]{1,32}$', default: 'lightsout@32473' }),
  },
  { additionalProperties: false },
);

const HttpsSink = Type.Object(
  {
    ...SinkCommon,
    type: Type.Literal('https'),
    /** The collector's endpoint; each batch is POSTed there as JSON lines. */
    url: Type.String({ pattern: '^https://[^/]+' }),
    ...SinkTls,
    /** Request headers whose values come from environment variables (header → variable), for the collector's token. */
    headersFromEnv: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }), Type.String({ pattern: '^[A-Z_][A-Z0-9_]{0,127}$' }))),
  },
  { additionalProperties: false },
);

const Audit = Type.Object(
  {
    /** Live copies of the audit chain for a SIEM, besides GET /v1/audit/export (docs/operations.md). */
    sinks: Type.Array(Type.Union([SyslogSink, HttpsSink]), { maxItems: 16, default: [] }),
    /** Records per send. */
    batch: Type.Integer({ minimum: 1, maximum: 10_000, default: 500 }),
    /** How often a replica looks for records appended elsewhere (its own are sent at once). */
    pollMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 1000 }),
    /** How long the forwarding replica's lease lasts without renewal; another replica takes over after it. */
    leaseMs: Type.Integer({ minimum: 1000, maximum: 600_000, default: 15_000 }),
    /** Longest wait between retries to an unreachable receiver. */
    maxBackoffMs: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 60_000 }),
  },
  { additionalProperties: false, default: {} },
);

export const RelayConfigSchema = Type.Object(
  {
    role: Type.Union([Type.Literal('all'), Type.Literal('manager'), Type.Literal('gateway')], { default: 'all' }),
    /** The region a gateway serves (agents of that region connect to it); required for gateways. */
    region: Type.Optional(Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' })),
    /** The one public URL of the deployment (the manager's); default publicUrl. Every replica sets the same. */
    deploymentUrl: Type.Optional(Type.String({ pattern: '^https?://[^/]+$' })),
    listen: Listen,
    /** The URL clients and agents reach the relay at; default `http://${listen.host}:${listen.port}`. */
    publicUrl: Type.Optional(Type.String({ pattern: '^https?://[^/]+$' })),
    dataDir: Type.String({ minLength: 1, default: './.data/relay' }),
    /** Behind a TLS-terminating reverse proxy: trust X-Forwarded-For/-Proto/-Host (client IPs, https URLs, secure cookies). */
    trustProxy: Type.Boolean({ default: false }),
    /** Built web console (index.html); default desktop/out/web of this checkout. */
    webRoot: Type.Optional(Type.String({ minLength: 1 })),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
      { default: 'info' },
    ),
    store: Store,
    identity: Identity,
    metrics: Metrics,
    agents: Agents,
    limits: Limits,
    ssh: Ssh,
    webUi: WebUi,
    bulk: Bulk,
    audit: Audit,
  },
  { additionalProperties: false },
);

/** The configuration exactly as validated (optional keys still optional). */
export type RelayConfigInput = Static<typeof RelayConfigSchema>;

/** The configuration with every derived value filled in; what the plugins read. */
export interface RelayConfig extends RelayConfigInput {
  role: RelayRole;
  /** This replica's own URL (stream URLs of a gateway point here). */
  publicUrl: string;
  /** The deployment's public URL; publicUrl when not configured. */
  deploymentUrl: string;
  dataDir: string;
  webRoot: string;
  identity: RelayConfigInput['identity'] & { audience: string; issuer: string; totpKeyFile: string };
  /** `aud` of agent control-connection JWTs. */
  /** `aud` of agent tokens handed out at enrollment (agents.audience, else this relay's own). */
  agentAudience: string;
  /** Every `aud` an agent token may carry here: the deployment's, and this relay's own URL-derived one (agents enrolled before agents.audience was set). */
  agentAudiences: string[];
}

/** Where console recordings are kept: what store.recordings says, else the role's default (replicas share the store). */
export function recordingStorageOf(config: Pick<RelayConfig, 'role' | 'store'>): 'directory' | 'database' {
  return config.store.recordings ?? (config.role === 'all' ? 'directory' : 'database');
}
