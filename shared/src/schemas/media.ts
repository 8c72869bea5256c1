import Type, { type Static } from 'typebox';
import { Slug } from './server.js';

/**
 * Virtual media (docs/virtual-media.md). An ISO is uploaded to the relay with
 * the tus protocol (`/v1/media/uploads`), then mounted on a server in one
 * action: the relay streams it to the server's agent, the agent serves it to
 * the BMC and mounts it through Redfish VirtualMedia, sets boot-once to CD and
 * resets the server.
 */
export const MEDIA_UPLOADS_PATH = '/v1/media/uploads';
/** tus Upload-Metadata keys the relay requires (tus 1.0 §creation). */
export const MediaUploadMetadataKeys = { filename: 'filename', sha256: 'sha256' } as const;
export const SHA256_HEX_PATTERN = '^[0-9a-f]{64}$';
export const UPLOAD_ID_PATTERN = '^[0-9a-f]{32}$';

export const MEDIA_URL_MAX_LENGTH = 2048;

/** `POST /v1/servers/{id}/media` */
export const MediaMountRequest = Type.Object(
  {
    /** A finished upload of the caller's tenant… */
    uploadId: Type.Optional(Type.String({ pattern: UPLOAD_ID_PATTERN })),
    /** …or an image already uploaded by the tenant, by its SHA-256 (with `url`: the SHA-256 the fetched image must have)… */
    sha256: Type.Optional(Type.String({ pattern: SHA256_HEX_PATTERN })),
    /** …or an http(s) URL the agent fetches the image from, to a host the tenant's media URL policy allows. */
    url: Type.Optional(Type.String({ minLength: 8, maxLength: MEDIA_URL_MAX_LENGTH })),
    /** Set boot-once to CD and reset (or power on) the server after mounting. */
    boot: Type.Optional(Type.Boolean()),
    /** Eject an image someone else inserted in the server's virtual CD first (without it: MEDIA_IN_USE). */
    replace: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type MediaMountRequest = Static<typeof MediaMountRequest>;

/** Where a mount stands; `failed` names the step that failed in `failedStep`. */
export const MediaStep = Type.Union([
  Type.Literal('idle'),
  Type.Literal('transferring'),
  Type.Literal('mounting'),
  Type.Literal('setting-boot'),
  Type.Literal('resetting'),
  Type.Literal('booting'),
  Type.Literal('mounted'),
  Type.Literal('ejecting'),
  Type.Literal('failed'),
]);
export type MediaStep = Static<typeof MediaStep>;

export const MediaImage = Type.Object({
  /** Empty while an image fetched by URL is still coming (its hash is known once all of it is in). */
  sha256: Type.Union([Type.String({ pattern: SHA256_HEX_PATTERN }), Type.Literal('')]),
  filename: Type.String({ maxLength: 255 }),
  size: Type.Integer({ minimum: 0 }),
  /** Where the agent fetched it from (mount by URL), without user info or query. */
  url: Type.Optional(Type.String({ maxLength: MEDIA_URL_MAX_LENGTH })),
});
export type MediaImage = Static<typeof MediaImage>;

/** An image the tenant uploaded and the relay keeps (`GET /v1/media/images`): mount it again by its SHA-256 without uploading it. */
export const MediaImageView = Type.Object({
  uploadId: Type.String(),
  filename: Type.String(),
  sha256: Type.String(),
  size: Type.Integer(),
  uploadedBy: Type.String(),
  createdAt: Type.Union([Type.String(), Type.Null()]),
});
export type MediaImageView = Static<typeof MediaImageView>;

export const MediaImageList = Type.Object({ images: Type.Array(MediaImageView) });
export type MediaImageList = Static<typeof MediaImageList>;

/** `GET /v1/servers/{id}/media`, also the answer to POST and DELETE. */
export const MediaState = Type.Object({
  serverId: Slug,
  step: MediaStep,
  /** One line for a human, e.g. "booting from virtual media". */
  message: Type.String(),
  image: Type.Union([MediaImage, Type.Null()]),
  mountedAt: Type.Union([Type.String(), Type.Null()]),
  mountedBy: Type.Union([Type.String(), Type.Null()]),
  /** When the agent ejects the image by itself (ISO-8601). */
  autoEjectAt: Type.Union([Type.String(), Type.Null()]),
  /** Bytes of the image at the agent while `transferring`. */
  progress: Type.Union([Type.Object({ bytes: Type.Integer({ minimum: 0 }), total: Type.Integer({ minimum: 0 }) }), Type.Null()]),
  failedStep: Type.Union([MediaStep, Type.Null()]),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String(), hint: Type.Optional(Type.String()) }), Type.Null()]),
  /** The BMC did something other than asked but the mount went on (it kept boot-from-CD persistent): one line for a human. */
  warning: Type.Optional(Type.String()),
  /** Bumped on every change, so a poller can tell a new state from a repeated one. */
  revision: Type.Integer({ minimum: 0 }),
});
export type MediaState = Static<typeof MediaState>;

/**
 * A tenant's media URL policy (`GET|PUT /v1/media/url-policy`): which hosts
 * the agent may fetch images from. Empty (the default): none. An entry is a
 * DNS name (`mirror.example.com`), every name under a domain
 * (`*.example.com`), an IP address or a CIDR block (`10.20.0.0/16`). A name
 * allows its public addresses only: a name that resolves to a loopback,
 * link-local, private or agent-network address is refused unless that
 * address is allowed by an IP or CIDR entry too.
 */
export const MediaUrlPolicy = Type.Object(
  {
    allow: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 200 }),
    /** Largest image fetched by URL, in bytes (default and ceiling: the relay's media upload limit). */
    maxBytes: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
export type MediaUrlPolicy = Static<typeof MediaUrlPolicy>;

/**
 * Why a policy entry is not one (a message), or undefined when it is: the
 * relay refuses to store what the agent could not enforce.
 */
export function mediaUrlPolicyEntryError(entry: string): string | undefined {
  const text = entry.trim().toLowerCase();
  const [address = '', prefix, extra] = text.split('/');
  const ipv4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(address);
  const ipv6 = !ipv4 && address.includes(':') && /^[0-9a-f:.]{2,45}$/.test(address) && (address.match(/::/g)?.length ?? 0) <= 1;
  if (ipv4 || ipv6) {
    if (extra !== undefined) return `${entry}: one prefix length at most`;
    if (prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > (ipv4 ? 32 : 128))) return `${entry}: the prefix length must be 0–${ipv4 ? 32 : 128}`;
    return undefined;
  }
  const name = text.startsWith('*.') ? text.slice(2) : text;
  const label = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
  if (name.length > 0 && name.length <= 253 && name.replace(/\.$/, '').split('.').every((part) => label.test(part))) return undefined;
  return `${entry} is not a host name, *.domain, IP address or CIDR block`;
}

export const MediaUrlPolicyView = Type.Object({
  tenant: Type.String(),
  policy: MediaUrlPolicy,
  updatedAt: Type.Union([Type.String(), Type.Null()]),
  updatedBy: Type.Union([Type.String(), Type.Null()]),
});
export type MediaUrlPolicyView = Static<typeof MediaUrlPolicyView>;

// ── control ops (relay → agent) ──────────────────────────────────────────
export interface MediaFetchParams {
  serverId: string;
  sha256: string;
  size: number;
  /** Path on the relay the agent GETs the bytes from, with its agent JWT (dial-back data connection). */
  pullPath: string;
}
export interface MediaFetchResult {
  /** true: the agent already had the image; nothing will be transferred. */
  cached: boolean;
}

/**
 * What the agent has of one image (or, asked with `pullPath`, of one upload):
 * `partial` is an upload's file kept with no transfer running (cut, or the
 * agent restarted): `bytes` of it are on disk and the next pull continues
 * there.
 */
export interface AgentMediaTransfer {
  sha256: string;
  state: 'absent' | 'fetching' | 'partial' | 'cached' | 'failed';
  bytes: number;
  size: number;
  error?: { code: string; message: string };
  /**
   * Asked with `pullPath`, of a `cached` answer: true when this upload's own
   * bytes arrived and matched its SHA-256, false when the image is cached
   * from elsewhere (another upload, a restart that forgot this transfer) —
   * a hash alone proves nothing of this upload. Absent from older agents.
   */
  verified?: boolean;
}

export interface AgentMediaMount {
  sha256: string;
  filename: string;
  mountedAt: string;
  mountedBy: string;
  autoEjectAt: string | null;
}

/** The agent's mount job for one server: BMC work runs in the background, the relay polls `media.status`. */
export interface AgentMediaJob {
  step: 'mounting' | 'setting-boot' | 'resetting' | 'booting' | 'mounted' | 'failed';
  failedStep: 'mounting' | 'setting-boot' | 'resetting' | null;
  error: { code: string; message: string; hint?: string } | null;
  /** Quirks the BMC needed for InsertMedia (diagnostics). */
  quirks: string[];
  /** The power action after boot-once: `reset` (was on), `on` (was off), null without boot. */
  powerAction: 'reset' | 'on' | null;
  /** How the mount was confirmed: the BMC was seen reading the image, or reports it inserted and connected. */
  confirmedBy?: 'fetched' | 'connected';
  /** What the BMC did other than asked (boot-once kept persistent), said to the user; the mount went on. */
  warning?: string;
}

/** Fetch an image by URL into the agent's cache; the agent checks `allow` at every hop and every resolved address. */
export interface MediaFetchUrlParams {
  serverId: string;
  url: string;
  /** The tenant's policy entries (MediaUrlPolicy.allow). */
  allow: string[];
  maxBytes: number;
  /** The SHA-256 the image must have: the fetched bytes are checked against it. */
  sha256?: string;
  /**
   * The tenant holds a verified copy of `sha256` of its own (an upload it
   * sent), so an image with that hash already in the agent's cache is used
   * without fetching. Without it the URL is fetched whatever the cache has:
   * a hash alone, which anyone who saw a signed media URL knows, must not
   * mount another tenant's image.
   */
  reuseCached?: boolean;
}
export interface MediaFetchUrlResult {
  fetchId: string;
}

/** One request of a URL fetch: the URL (redacted), the address connected to, the HTTP status. */
export interface MediaUrlHop {
  url: string;
  address: string | null;
  status: number | null;
}

export interface AgentMediaUrlFetch {
  fetchId: string;
  state: 'fetching' | 'cached' | 'failed';
  bytes: number;
  /** Announced by the server (Content-Length), null before its answer. */
  size: number | null;
  /** Known once every byte is in. */
  sha256: string | null;
  /** The last path segment of the final URL. */
  filename: string;
  hops: MediaUrlHop[];
  /** Requests that continued a cut transfer with Range. */
  resumes: number;
  error?: { code: string; message: string; hint?: string };
}

export interface MediaStatusParams {
  serverId: string;
  sha256?: string;
  /** With `sha256`: that upload's own transfer (its pull path), not another upload's of the same image. */
  pullPath?: string;
  fetchId?: string;
}
export interface MediaStatusResult {
  transfer: AgentMediaTransfer | null;
  /** With `fetchId`: that URL fetch (null when the agent does not know it). */
  urlFetch?: AgentMediaUrlFetch | null;
  mount: AgentMediaMount | null;
  job: AgentMediaJob | null;
}

export interface MediaMountParams {
  serverId: string;
  sha256: string;
  filename: string;
  mountedBy: string;
  boot: boolean;
  /** Eject an image this agent did not insert (without it: MEDIA_IN_USE). */
  replace?: boolean;
}

/**
 * An upload the relay no longer has (it expired unfinished, or its client
 * deleted it): the agent stops pulling it and drops its partial file.
 */
export interface MediaDiscardParams {
  /** The upload's pull path, `/v1/agent/media/{upload id}`. */
  pullPath: string;
}

export interface MediaDiscardResult {
  /** The agent held something of it (a partial file, or a pull running) and dropped it. */
  discarded: boolean;
}

export interface MediaEjectParams {
  serverId: string;
}

/**
 * What the eject found in the virtual CD: the image it ejected — the filename
 * this agent mounted it as, else the URL the BMC reports without user info or
 * query (either may carry a credential) — or null when the slot was empty.
 */
export interface MediaEjectResult {
  ejected: string | null;
}
