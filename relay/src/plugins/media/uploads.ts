import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EVENTS, type Locker, Server as TusServer } from '@tus/server';
import type { Upload } from '@tus/utils';
import { type ErrorBody, LightsoutError, MEDIA_UPLOADS_PATH, SHA256_HEX_PATTERN, UPLOAD_ID_PATTERN } from '@lightsout/shared';
import type { HashingFileStore } from './hashing-store.js';
import { KeyedMutex } from './keyed-mutex.js';

/**
 * The tus 1.0 upload endpoint (`/v1/media/uploads`): authenticated callers
 * upload an ISO in resumable chunks; the relay enforces the size limit and the
 * tenant's disk quota before anything is created, hashes while storing and
 * refuses (and deletes) an upload whose bytes do not match the SHA-256 the
 * client announced in Upload-Metadata.
 */
export interface UploadCaller {
  subject: string;
  username: string;
  tenant: string;
}

export interface UploadRecord {
  id: string;
  tenant: string;
  subject: string;
  username: string;
  filename: string;
  sha256: string;
  size: number;
  offset: number;
  /** Complete and hashed to the announced SHA-256. */
  verified: boolean;
  createdAt: string | null;
}

/** Metadata keys only the relay may set; a client sending them has them dropped. */
const SERVER_KEYS = ['tenant', 'subject', 'username', 'verified'];
const SHA256 = new RegExp(SHA256_HEX_PATTERN);
const UPLOAD_ID = new RegExp(UPLOAD_ID_PATTERN);

export interface UploadServerOptions {
  store: HashingFileStore;
  /** Shared with our own PATCH (patch.ts), so requests for one upload exclude each other. */
  locker: Locker;
  maxUploadBytes: number;
  tenantQuotaBytes: number;
  /** Bytes the tenant holds or has reserved outside this store (uploads into agents); default none. */
  usedElsewhereOf?: (tenant: string) => Promise<number>;
  /** Unfinished uploads a tenant may have in this store at once; default 100. */
  maxOpenUploads?: number;
  /** The caller the route authenticated for this raw request (set before tus sees it). */
  callerOf: (request: IncomingMessage) => UploadCaller | undefined;
  onVerified?: (record: UploadRecord) => void;
  /** Held per tenant from the quota check until the upload exists; shared with the creation of uploads into agents. */
  creations?: KeyedMutex;
}

export function createUploadServer(options: UploadServerOptions): TusServer {
  const { store } = options;
  const creations = options.creations ?? new KeyedMutex();
  const nodeOf = (request: unknown) => (request as { runtime?: { node?: { req?: IncomingMessage; res?: ServerResponse } } }).runtime?.node;
  const callerOf = (request: unknown): UploadCaller => {
    const raw = nodeOf(request)?.req;
    const caller = raw ? options.callerOf(raw) : undefined;
    if (!caller) throw tusError(new LightsoutError('UNAUTHENTICATED', 'upload without an authenticated caller'));
    return caller;
  };
  /** The tenant's creation lock a POST holds, let go once its upload's record is written. */
  const creating = new WeakMap<object, () => void>();
  const server = new TusServer({
    path: MEDIA_UPLOADS_PATH,
    datastore: store,
    locker: options.locker,
    maxSize: options.maxUploadBytes,
    relativeLocation: true,
    disableTerminationForFinishedUploads: false,
    namingFunction: () => randomBytes(16).toString('hex'),
    // the id comes from the URL; anything but our own id format is not an upload (no traversal)
    getFileIdFromRequest: (_request, lastPath) => uploadIdOf(lastPath ?? ''),
    async onUploadCreate(request, upload) {
      const caller = callerOf(request);
      const metadata = Object.fromEntries(Object.entries(upload.metadata ?? {}).filter(([key]) => !SERVER_KEYS.includes(key)));
      const sha256 = metadata.sha256?.toLowerCase();
      if (!sha256 || !SHA256.test(sha256)) {
        throw tusError(new LightsoutError('VALIDATION_FAILED', 'Upload-Metadata must carry sha256 (64 hex digits) of the whole file', { hint: 'the CLI computes it before uploading' }));
      }
      if (upload.size === undefined) throw tusError(new LightsoutError('VALIDATION_FAILED', 'Upload-Length is required (deferred length is not accepted)'));
      if (upload.size === 0) throw tusError(emptyUpload());
      // The room left is read here and taken when @tus/server writes the record (POST_CREATE below): the
      // tenant's lock spans both, or POSTs at once would each see the same room. A POST refused in between
      // lets go as it is answered.
      const release = await creations.acquire(caller.tenant);
      nodeOf(request)?.res?.once('close', release);
      creating.set(request, release);
      try {
        const held = (await listUploads(store)).filter((record) => record.tenant === caller.tenant);
        // every upload is read on each creation and listing: open ones are bounded, not only their bytes
        const open = held.filter((record) => !record.verified).length;
        const maxOpen = options.maxOpenUploads ?? 100;
        if (open >= maxOpen) throw tusError(tooManyOpen(open, maxOpen));
        const used = held.reduce((total, record) => total + record.size, 0) + ((await options.usedElsewhereOf?.(caller.tenant)) ?? 0);
        if (used + upload.size > options.tenantQuotaBytes) {
          throw tusError(quotaExceeded(upload.size, used, options.tenantQuotaBytes));
        }
      } catch (error) {
        release();
        throw error;
      }
      return {
        metadata: {
          ...metadata,
          filename: displayName(metadata.filename ?? ''),
          sha256,
          tenant: caller.tenant,
          subject: caller.subject,
          username: caller.username,
        },
      };
    },
    async onIncomingRequest(request, uploadId) {
      const caller = callerOf(request);
      if (request.method === 'POST' || request.method === 'OPTIONS') return;
      // another tenant's upload does not exist, as far as this caller can tell
      const upload = await store.getUpload(uploadId).catch(() => undefined);
      if (upload && upload.metadata?.tenant !== caller.tenant) throw tusError(new LightsoutError('NOT_FOUND', 'no such upload'));
    },
    async onUploadFinish(_request, upload) {
      try {
        await finishUpload(store, upload, options.onVerified);
      } catch (error) {
        throw error instanceof LightsoutError ? tusError(error, finishStatus(error)) : error;
      }
      return {};
    },
    onResponseError(_request, error) {
      if (error instanceof LightsoutError) return { status_code: error.httpStatus, body: JSON.stringify(error.toBody()) };
      return undefined;
    },
  });
  server.on(EVENTS.POST_CREATE, (request: object) => creating.get(request)?.());
  return server;
}

/**
 * The last byte of an upload has landed: verify the SHA-256 the client
 * announced (refusing and deleting the upload on a mismatch) and mark it
 * verified. Shared by @tus/server's PATCH and our own (patch.ts).
 */
export async function finishUpload(store: HashingFileStore, upload: Upload, onVerified?: (record: UploadRecord) => void): Promise<void> {
  const expected = upload.metadata?.sha256 ?? '';
  const actual = await store.digest(upload.id, upload.size ?? upload.offset);
  if (actual !== expected) {
    await store.remove(upload.id).catch(() => undefined);
    throw new LightsoutError('CHECKSUM_MISMATCH', 'the uploaded bytes do not match the announced SHA-256; the upload was deleted', { details: { expected, actual } });
  }
  const stored = await store.configstore.get(upload.id);
  if (stored) {
    // the record's offset too: @tus/file-store writes it only at creation (0), and its expiry reads it
    stored.metadata = { ...stored.metadata, verified: 'true' };
    stored.offset = upload.size ?? upload.offset;
    await store.configstore.set(upload.id, stored);
  }
  store.forget(upload.id);
  upload.metadata = { ...upload.metadata, verified: 'true' };
  onVerified?.(recordOf(upload));
}

/** tus checksum extension: 460 Checksum Mismatch; anything else keeps its own status. */
export function finishStatus(error: LightsoutError): number {
  return error.code === 'CHECKSUM_MISMATCH' ? 460 : error.httpStatus;
}

/** A thrown tus error: status + JSON ErrorBody, so the CLI shows our code and hint. */
/** An upload of `size` bytes that would take the tenant past its media quota, with `used` bytes held already. */
export function quotaExceeded(size: number, used: number, quota: number): LightsoutError {
  return new LightsoutError('QUOTA_EXCEEDED', `upload of ${size} bytes would exceed the tenant's media quota (${used} of ${quota} bytes used)`, {
    hint: 'delete old uploads (lightsout media status shows them) or ask the provider for a larger quota',
    details: { used, quota, size },
  });
}

/** A tenant with `open` unfinished uploads, as many as it may have at once. */
export function tooManyOpen(open: number, maxOpen: number): LightsoutError {
  return new LightsoutError('QUOTA_EXCEEDED', `the tenant has ${open} unfinished uploads, as many as it may have at once`, {
    hint: 'finish or delete (tus DELETE) the uploads in progress; unfinished uploads expire 24 h after their creation',
    details: { open, maxOpen },
  });
}

/** tus allows an empty upload (Upload-Length: 0); an empty file is no disk image. */
export function emptyUpload(): LightsoutError {
  return new LightsoutError('VALIDATION_FAILED', 'Upload-Length is 0: an empty file is not a disk image');
}

export function tusError(error: LightsoutError, status = error.httpStatus): { status_code: number; body: string } {
  const body: ErrorBody = error.toBody();
  return { status_code: status, body: JSON.stringify(body) };
}

/** The upload id at the end of a tus URL; anything but our own id format is not an upload (no traversal). */
export function uploadIdOf(url: string): string | undefined {
  const last = url.split('?')[0]!.split('/').at(-1);
  return last && UPLOAD_ID.test(last) ? last : undefined;
}

/** What the UI shows for a file name: the last path segment, printable, at most 255 code points. Never used as a path. */
export function displayName(name: string): string {
  const base = name.split(/[\\/]/).filter((part) => part !== '' && part !== '.' && part !== '..').at(-1) ?? '';
  // Control (C0, C1) and format characters (bidi overrides and isolates, zero-width ones), and line and paragraph
  // separators: a name shown with U+202E reads backwards ("invoice\u202Eosi.exe" shows as "invoiceexe.iso").
  // Cut by code point, never inside a surrogate pair.
  const printable = [...base.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '')].slice(0, 255).join('');
  return printable || 'image.iso';
}

export function recordOf(upload: Upload): UploadRecord {
  const metadata = upload.metadata ?? {};
  return {
    id: upload.id,
    tenant: metadata.tenant ?? '',
    subject: metadata.subject ?? '',
    username: metadata.username ?? '',
    filename: metadata.filename ?? 'image.iso',
    sha256: metadata.sha256 ?? '',
    size: upload.size ?? 0,
    offset: upload.offset,
    verified: metadata.verified === 'true' && upload.size !== undefined && upload.offset === upload.size,
    createdAt: upload.creation_date ?? null,
  };
}

export async function listUploads(store: HashingFileStore): Promise<UploadRecord[]> {
  const ids = (await store.configstore.list?.()) ?? [];
  const records: UploadRecord[] = [];
  for (const id of ids) {
    if (!UPLOAD_ID.test(id)) continue;
    const upload = await store.getUpload(id).catch(() => undefined);
    if (upload) records.push(recordOf(upload));
  }
  return records;
}

/** Bytes a tenant holds or has reserved (declared sizes of unfinished uploads count in full). */
export async function tenantUsage(store: HashingFileStore, tenant: string): Promise<number> {
  return (await listUploads(store)).filter((record) => record.tenant === tenant).reduce((total, record) => total + record.size, 0);
}

export async function findUpload(store: HashingFileStore, id: string): Promise<UploadRecord | undefined> {
  if (!UPLOAD_ID.test(id)) return undefined;
  const upload = await store.getUpload(id).catch(() => undefined);
  return upload ? recordOf(upload) : undefined;
}
