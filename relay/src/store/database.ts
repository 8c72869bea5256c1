import type { ColumnType, Generated } from 'kysely';

/**
 * Table shapes as Kysely sees them. Portable column types only (text,
 * integer, bigint) so the same migration runs on SQLite and PostgreSQL:
 * booleans are 0/1 integers, JSON is text, times are epoch milliseconds.
 */
export interface TenantTable {
  id: string;
  name: string;
  created_at: number;
  /** 1: destructive actions need a second factor (migration 0002). */
  require_mfa: Generated<number>;
}

export interface UserTable {
  id: string;
  tenant_id: string;
  username: string;
  /** `scrypt$N$r$p$salt$hash` (base64url parts); see identity/passwords.ts. */
  password_hash: string;
  role: string;
  disabled: number;
  created_at: number;
  /** The active RFC 6238 secret, sealed (identity/second-factor.ts); null = no second factor (migration 0002). */
  totp_secret: Generated<string | null>;
  /** A secret being enrolled, sealed, until confirmed with a first code or expired (migration 0005). */
  totp_pending: Generated<string | null>;
  totp_pending_expires_at: Generated<number | null>;
  /** The last TOTP time step accepted: a code of this step or an earlier one is refused (RFC 6238 §5.2). */
  totp_last_step: Generated<number | null>;
  /** SHA-256 of a one-time enrollment code a tenant admin issued, and when it expires. */
  mfa_enrollment_hash: Generated<string | null>;
  mfa_enrollment_expires_at: Generated<number | null>;
  /** Epoch ms of the last password change or disable (a record: the sign-ins made before it are ended by deleting their OIDC grants). */
  credentials_changed_at: Generated<number | null>;
}

export interface AgentTable {
  id: string;
  name: string;
  region: string;
  datacenter: string;
  public_jwk: string;
  revoked: number;
  version: string | null;
  connected_at: number | null;
  last_seen_at: number | null;
  created_at: number;
  /** JSON array of the tenants this agent may register servers into; null: any (a join token that named none). */
  tenants: string | null;
  /** The replica holding the agent's control connection (migration 0014); online anywhere only while that replica's heartbeat is fresh. */
  gateway_id: Generated<string | null>;
}

export interface JoinTokenTable {
  /** SHA-256 of the token, hex. The token itself is never stored. */
  token_hash: string;
  region: string;
  datacenter: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_by_agent: string | null;
  /** JSON array of tenants the enrolled agent is bound to; null: any. */
  tenants: string | null;
}

export interface ServerTable {
  id: string;
  name: string;
  tenant_id: string;
  region: string;
  datacenter: string;
  rack: string;
  labels: string;
  endpoints: string;
  capabilities: string;
  agent_id: string;
  power: string;
  reachable: number | null;
  state_at: number | null;
  updated_at: number;
  /** JSON BmcLinkStatus from the agent's last state report, or null (migration 0006). */
  bmc_status: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON: the power action being confirmed, with the time its confirmation gives up (`until`, epoch ms), or null (migration 0021). */
  pending_power: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON PowerOutcome of the last power action confirmed or given up on, or null (migration 0021). */
  last_power: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON ServerMediaBadge: the virtual media image mounted, or null (migration 0021). */
  media: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON { state: MediaState, at: epoch ms }: the server's virtual media job as its relay last wrote it, or null (migration 0023). */
  media_job: ColumnType<string | null, string | null | undefined, string | null>;
  /** The MediaJobs instance (one per relay process) running that job; null when none ever ran (migration 0023). */
  media_job_owner: ColumnType<string | null, string | null | undefined, string | null>;
  /** Epoch ms until which the owner holds the job; 0 once it settled. Another relay may claim the server after it. */
  media_job_until: ColumnType<number, number | undefined, number>;
}

export interface RegionTable {
  id: string;
  created_at: number;
}

export interface DatacenterTable {
  id: string;
  region: string;
  created_at: number;
}

export interface AuditTable {
  seq: Generated<number>;
  time: number;
  subject: string | null;
  tenant_id: string | null;
  action: string;
  target: string | null;
  outcome: string;
  source_ip: string | null;
  correlation_id: string | null;
  details: string | null;
  /** SHA-256 (hex) of the previous record's canonical form; the chain (migration 0002, audit/chain.ts). */
  prev_hash: string | null;
  /** SHA-256 (hex) of this record's canonical form, which includes prev_hash. */
  hash: string | null;
}

/** A grant narrows a user's reach inside their tenant to a server group (access/scope.ts). */
export interface GrantTable {
  id: string;
  tenant_id: string;
  /** The user id (token `sub`) the grant applies to. */
  subject: string;
  /** JSON GrantSelector: {kind: rack|label|servers, …}. */
  selector: string;
  created_by: string;
  created_at: number;
}

/** A tenant's service account credential: `lso_…` bearer token, stored only as its SHA-256. */
export interface ApiTokenTable {
  id: string;
  tenant_id: string;
  name: string;
  role: string;
  token_hash: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
}

/** oidc-provider's storage (sessions, grants, device codes, refresh tokens …), one row per model instance. */
export interface OidcPayloadTable {
  id: string;
  kind: string;
  payload: string;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: number | null;
  consumed_at: number | null;
  /** The account the artefact belongs to (sessions, grants, tokens), for revoking all of a user's (migration 0005). */
  account_id: Generated<string | null>;
}

export interface Database {
  tenants: TenantTable;
  users: UserTable;
  agents: AgentTable;
  join_tokens: JoinTokenTable;
  servers: ServerTable;
  regions: RegionTable;
  datacenters: DatacenterTable;
  audit: AuditTable;
  oidc_payloads: OidcPayloadTable;
  grants: GrantTable;
  api_tokens: ApiTokenTable;
  server_assignments: ServerAssignmentTable;
  spent_tokens: SpentTokenTable;
  revocations: RevocationTable;
  ssh_keys: SshKeyTable;
  ssh_host_keys: SshHostKeyTable;
  automation_policies: AutomationPolicyTable;
  media_url_policies: MediaUrlPolicyTable;
  recording_policies: RecordingPolicyTable;
  media_uploads: MediaUploadTable;
  automation_approvals: AutomationApprovalTable;
  signing_keys: SigningKeyTable;
  login_failures: LoginFailureTable;
  replicas: ReplicaTable;
  bus_payloads: BusPayloadTable;
  audit_sink_cursors: AuditSinkCursorTable;
  recordings: RecordingTable;
  recording_chunks: RecordingChunkTable;
  discovered_bmcs: DiscoveredBmcTable;
}

/** A BMC an agent's scan found (migration 0019): the finding as JSON, as the agent reported it. */
export interface DiscoveredBmcTable {
  id: string;
  agent_id: string;
  address: string;
  previous_address: string | null;
  /** The Redfish UUID, else the IPMI GUID, lower case; null when the BMC told neither. */
  identity: string | null;
  finding: string;
  scan_id: string;
  first_seen_at: number;
  last_seen_at: number;
  adopted_server_id: string | null;
}

/** How far the audit chain was delivered to one SIEM sink, and which replica forwards it (audit/siem/forwarder.ts, migration 0015). */
export interface AuditSinkCursorTable {
  sink: string;
  /** The last delivered record's seq; 0 before the first. */
  seq: number;
  holder: string | null;
  lease_until: number;
}

/** A console recording kept in the store (migration 0016): its meta as JSON, for every replica to list. */
export interface RecordingTable {
  id: string;
  tenant_id: string;
  meta: string;
  started_at: number;
  created_at: number;
}

/** One stored append of a recording: `length` bytes at stream offset `position`, and their time index lines. */
export interface RecordingChunkTable {
  recording_id: string;
  position: number;
  length: number;
  bytes: Buffer;
  /** "offset timeMs" lines, one per chunk the append gathered. */
  times: string;
  written_at: number;
}

/** A running replica of the deployment (cluster/replicas.ts, migration 0014); times are the database's clock. */
export interface ReplicaTable {
  id: string;
  role: string;
  region: string | null;
  public_url: string;
  started_at: number;
  heartbeat_at: number;
}

/** A cluster bus message too large for a NOTIFY payload; the notice carries this row's id (cluster/bus.ts). */
export interface BusPayloadTable {
  id: string;
  payload: string;
  created_at: number;
}

/** A provider admin placed this server in a tenant: overrides what its agent reports (migration 0003). */
export interface ServerAssignmentTable {
  server_id: string;
  tenant_id: string;
  assigned_by: string;
  assigned_at: number;
}

/** A single-use token that was accepted (access/single-use.ts), kept until it would be refused anyway (migration 0004). */
export interface SpentTokenTable {
  /** What kind of token: `stream-connect`, `agent:<agent id>`. */
  scope: string;
  jti: string;
  /** Epoch ms after which the token fails its expiry check, clock tolerance included. */
  expires_at: number;
}

/** A revocation notice (access/revocations.ts) as JSON, kept while it matters (migration 0006). */
export interface RevocationTable {
  id: string;
  notice: string;
  /** Epoch ms of the revocation. */
  at: number;
}

/** A user's SSH public key for the SSH front door (migration 0010); deleting the row is the revocation. */
export interface SshKeyTable {
  id: string;
  tenant_id: string;
  user_id: string;
  name: string;
  algorithm: string;
  bits: number;
  /** `SHA256:…`; unique: one key opens one account. */
  fingerprint: string;
  /** `algorithm base64`, no comment. */
  public_key: string;
  created_at: number;
  last_used_at: number | null;
}

/** The SSH front door's host key, one per deployment (every gateway replica serves the same), OpenSSH private key format. */
export interface SshHostKeyTable {
  id: string;
  private_key: string;
  fingerprint: string;
  created_at: number;
}

/** A tenant's automation policy as JSON (shared AutomationPolicy), migration 0011. */
export interface AutomationPolicyTable {
  tenant_id: string;
  policy: string;
  updated_at: number;
  updated_by: string | null;
}

/** A tenant's media URL policy as JSON (shared MediaUrlPolicy), migration 0017. */
export interface MediaUrlPolicyTable {
  tenant_id: string;
  policy: string;
  updated_at: number;
  updated_by: string | null;
}

/** A tenant's recording rules as JSON (shared RecordingRules), migration 0022. */
export interface RecordingPolicyTable {
  tenant_id: string;
  policy: string;
  updated_at: number;
  updated_by: string | null;
}

/** A tool call that waits for (or was given) a tenant admin's approval, migration 0011. */
export interface AutomationApprovalTable {
  id: string;
  tenant_id: string;
  tool: string;
  server_id: string;
  /** The arguments as shown to the approver (redacted JSON). */
  arguments: string;
  /** SHA-256 of the exact call (tool and canonical arguments): the approval is spent only by the same call. */
  fingerprint: string;
  subject: string;
  username: string;
  /** pending | approved | denied | used (expired is computed from expires_at). */
  status: string;
  created_at: number;
  expires_at: number;
  decided_by: string | null;
  decided_at: number | null;
}

/** A key ring's private keys as JSON (access/key-documents.ts), shared by every replica on the store (migration 0012). */
export interface SigningKeyTable {
  /** Which ring: `oidc` (the embedded OP's keys and cookie secrets), `stream` (stream tokens). */
  name: string;
  document: string;
  /** Bumped by every replace: a writer replaces only the version it read. */
  version: number;
  updated_at: number;
}

/** Sign-in failures under one throttle key (identity/login-throttle.ts), shared by every replica (migration 0013). */
export interface LoginFailureTable {
  /** SHA-256 (base64url) of `p:<user>\0<address>`, `u:<user>` or `a:<address>`: what was typed, whether or not such a user exists, never kept in clear. */
  key: string;
  count: number;
  last_at: number;
  /** Epoch ms until which the key is locked; 0: not locked. */
  locked_until: number;
}

/** An upload stored in its target agent's cache (plugins/media/agent-uploads.ts); the bytes are never on a relay. */
export interface MediaUploadTable {
  id: string;
  tenant_id: string;
  subject: string;
  username: string;
  filename: string;
  sha256: string;
  size: number;
  server_id: string;
  agent_id: string;
  /** 1 once the agent holds every byte and they hash to `sha256`. */
  verified: number;
  created_at: number;
}
