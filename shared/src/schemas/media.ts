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

/** `POST /v1/servers/{id}/media` */
export const MediaMountRequest = Type.Object(
  {
    /** A finished upload of the caller's tenant… */
    uploadId: Type.Optional(Type.String({ pattern: UPLOAD_ID_PATTERN })),
    /** …or an image already uploaded by the tenant, by its SHA-256. */
    sha256: Type.Optional(Type.String({ pattern: SHA256_HEX_PATTERN })),
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
  sha256: Type.String({ pattern: SHA256_HEX_PATTERN }),
  filename: Type.String({ maxLength: 255 }),
  size: Type.Integer({ minimum: 0 }),
});
export type MediaImage = Static<typeof MediaImage>;

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

export interface AgentMediaTransfer {
  sha256: string;
  state: 'absent' | 'fetching' | 'cached' | 'failed';
  bytes: number;
  size: number;
  error?: { code: string; message: string };
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

export interface MediaStatusParams {
  serverId: string;
  sha256?: string;
}
export interface MediaStatusResult {
  transfer: AgentMediaTransfer | null;
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

export interface MediaEjectParams {
  serverId: string;
}
