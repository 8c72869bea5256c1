import { type Hash, createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { Locker } from '@tus/server';
import { type AgentMediaTransfer, LightsoutError, MEDIA_UPLOADS_PATH, UPLOAD_URL_HEADER, httpStatusOf, isErrorCode } from '@lightsout/shared';
import type { MediaDependencies } from './dependencies.js';
import { type AgentLegs, feed } from './agent-legs.js';
import { type AgentUploadRow, type AgentUploads, recordOfRow } from './agent-uploads.js';
import { drainRest } from './drain.js';
import { PatchRefused, refuse, sendRefusal, tusHeaders, validate } from './patch.js';
import { type UploadCaller, type UploadRecord, quotaExceeded } from './uploads.js';

/**
 * tus POST, HEAD, PATCH and DELETE for an upload stored in its target
 * agent's cache (docs/virtual-media.md "Uploads into the agent"):
 *
 * - POST (any replica) checks the caller, size, quota and server, writes the
 *   row, and answers with the upload's URL on the gateway holding the agent.
 * - PATCH (only that gateway: 421 WRONG_GATEWAY elsewhere) writes the body
 *   into the agent's pull (agent-legs.ts) and answers with the offset the
 *   agent reports having; the last byte is answered once the agent has
 *   verified the SHA-256 (460 and the upload deleted when it differs).
 * - HEAD (any replica) answers the agent's offset, asked over the control
 *   connection wherever it is, and names the gateway holding the agent now
 *   (`Lightsout-Upload-Url`): after a gateway dies, a client asks the
 *   deployment URL and continues there from what the agent has.
 *
 * An image the agent has already (another tenant's upload, an earlier one)
 * is not sent again, but the caller must still prove they hold it: the
 * gateway hashes the body without keeping it (`proofs`), in memory only, so
 * such an upload restarts from 0 on another gateway.
 */
export interface AgentUploadContext {
  rows: AgentUploads;
  legs: AgentLegs;
  proofs: Map<string, { hash: Hash; offset: number }>;
  locker: Locker;
  requestAgent: MediaDependencies['requestAgent'];
  /** The agent's control connection is on this process (only then does its pull arrive here). */
  connectedHere(agentId: string): boolean;
  /** The public URL of the replica holding the agent now, this one's own included; undefined when offline everywhere. */
  gatewayUrlOf(agentId: string): Promise<string | undefined>;
  ownUrl: string;
  expirationMs: number;
  onVerified?: (record: UploadRecord) => void;
  /** Body bytes received (metrics). */
  onBytes?: (bytes: number) => void;
}

/** How long a PATCH waits for the agent to open its pull (a control round trip and a new HTTP request). */
const LEG_WAIT_MS = 15_000;
/** How long the last PATCH waits for the agent's verdict on the whole image (it hashes as it writes: milliseconds). */
const VERDICT_WAIT_MS = 120_000;
const STATUS_TIMEOUT_MS = 10_000;
/**
 * Longest pause between two asks of the agent's count at the end of a PATCH.
 * The client sends nothing until it has the answer, so every millisecond
 * past the moment the agent's file holds the bytes is idle time for the
 * whole path, once per chunk (16 per GiB with the CLI's 64 MiB): polled at
 * 1, 2, 4, 8, 10, 10… ms instead of up to 50, the answer comes at most 10 ms
 * late. An ask is one small control message.
 */
const CONFIRM_POLL_MAX_MS = 10;

export function pullPathOf(id: string): string {
  return `/v1/agent/media/${id}`;
}

/** Where a client sends this upload's bytes now: the holder's URL, or a path on this replica when it is the holder. */
export async function uploadUrlOf(context: AgentUploadContext, row: Pick<AgentUploadRow, 'id' | 'agent_id'>): Promise<string | undefined> {
  const gateway = await context.gatewayUrlOf(row.agent_id);
  return gateway === undefined ? undefined : `${gateway}${MEDIA_UPLOADS_PATH}/${row.id}`;
}

export interface AgentUploadCreate {
  caller: UploadCaller;
  server: { id: string; agentId: string };
  filename: string;
  sha256: string;
  size: number;
  /** The tenant's media quota, and what it holds outside the agents' uploads (the relay's own file store). */
  quota: { bytes: number; usedElsewhere: number };
}

/** tus creation (core §3.2.2 "POST" of the creation extension) of an upload into an agent; the checks are the caller's. */
export async function createAgentUpload(context: AgentUploadContext, response: ServerResponse, create: AgentUploadCreate): Promise<UploadRecord> {
  const gateway = await context.gatewayUrlOf(create.server.agentId);
  if (gateway === undefined) throw new LightsoutError('AGENT_OFFLINE', `the agent of ${create.server.id} is offline: the upload goes into its cache`, { hint: 'retry when the agent is back (lightsout servers list shows it)' });
  const row: AgentUploadRow = {
    id: randomBytes(16).toString('hex'),
    tenant_id: create.caller.tenant,
    subject: create.caller.subject,
    username: create.caller.username,
    filename: create.filename,
    sha256: create.sha256,
    size: create.size,
    server_id: create.server.id,
    agent_id: create.server.agentId,
    verified: 0,
    created_at: Date.now(),
  };
  const { created, used } = await context.rows.createWithinQuota(row, create.quota.bytes, create.quota.usedElsewhere);
  if (!created) throw quotaExceeded(create.size, used, create.quota.bytes);
  const path = `${MEDIA_UPLOADS_PATH}/${row.id}`;
  // Relative when this replica is the one (as a single process answers); else the holder's absolute URL.
  const location = gateway === context.ownUrl ? path : `${gateway}${path}`;
  response
    .writeHead(201, { ...tusHeaders(), Location: location, 'Upload-Expires': new Date(row.created_at + context.expirationMs).toUTCString(), 'Content-Length': '0' })
    .end();
  return recordOfRow(row);
}

/** The agent's offset of an unverified upload: what it has written of the image, or this gateway's proof so far. */
export async function agentOffset(context: AgentUploadContext, row: AgentUploadRow): Promise<number> {
  if (row.verified === 1) return row.size;
  const proof = context.proofs.get(row.id);
  if (proof) return proof.offset;
  const transfer = await transferOf(context, row);
  if (transfer.state === 'cached' && transfer.verified === true) {
    // the agent checked this upload's own bytes, but the PATCH that carried the last of them never recorded it
    // (its verdict was lost with its connection or its gateway): recorded now, so the client does not send it all again
    await markVerified(context, row);
    return row.size;
  }
  // cached otherwise: the agent had the image before (proof needed, from 0); partial: what its file kept (a restart)
  return transfer.state === 'fetching' || transfer.state === 'partial' ? Math.min(transfer.bytes, row.size) : 0;
}

/**
 * While the agent is between gateways (its gateway died a moment ago), the
 * offset cannot be read: the answer is 423 with Retry-After, which tus
 * clients take as "ask again" (tus-js-client retries it like a network
 * error), where any other non-2xx answer to HEAD makes tus-js-client drop
 * the upload and start a new one from byte 0 — measured in the web console:
 * a 503 here sent the whole image again.
 */
const AGENT_ELSEWHERE = new Set(['AGENT_OFFLINE', 'AGENT_TIMEOUT']);

/** tus HEAD (core §3.2.1): the offset is the agent's; answered by any replica. */
export async function headAgentUpload(context: AgentUploadContext, request: IncomingMessage, response: ServerResponse, row: AgentUploadRow): Promise<void> {
  const headers = tusHeaders();
  try {
    const offset = await agentOffset(context, row);
    const url = await uploadUrlOf(context, row);
    response
      .writeHead(200, {
        ...headers,
        'Upload-Offset': String(offset),
        'Upload-Length': String(row.size),
        'Cache-Control': 'no-store',
        ...(url ? { [UPLOAD_URL_HEADER]: url } : {}),
      })
      .end();
  } catch (error) {
    if (error instanceof LightsoutError && AGENT_ELSEWHERE.has(error.code)) {
      sendRefusal(request, response, { ...headers, 'Retry-After': '1' }, new PatchRefused(error, 423));
      return;
    }
    sendRefusal(request, response, headers, error);
  }
}

/** Uploads a DELETE is ending, per context: the PATCH it stops answers 410 rather than 204. */
const terminating = new WeakMap<AgentUploadContext, Set<string>>();

function terminatingOf(context: AgentUploadContext): Set<string> {
  let ids = terminating.get(context);
  if (!ids) terminating.set(context, (ids = new Set()));
  return ids;
}

/** tus §3.3: a request for an upload being terminated is answered as for one terminated (404/410). */
function refuseIfTerminating(context: AgentUploadContext, row: AgentUploadRow): void {
  if (terminatingOf(context).has(row.id)) throw refuse(410, 'NOT_FOUND', 'the upload was deleted while this request was writing it');
}

/**
 * tus termination (§3.3 "Termination"): the row goes, and with it the agent's
 * right to pull the rest. It takes the upload's lock as a PATCH does: a PATCH
 * writing it stops its body there and answers 410, so no PATCH reports bytes
 * stored (or the image verified) for an upload already deleted.
 */
export async function deleteAgentUpload(context: AgentUploadContext, response: ServerResponse, row: AgentUploadRow): Promise<void> {
  const ending = terminatingOf(context);
  ending.add(row.id);
  const gone = new AbortController();
  response.once('close', () => gone.abort());
  const lock = context.locker.newLock(row.id);
  try {
    try {
      await lock.lock(gone.signal, async () => undefined);
    } catch {
      throw refuse(423, 'CONFLICT', 'another request is writing this upload; retry');
    }
    try {
      await context.rows.remove(row.id);
      context.legs.drop(row.id);
      context.proofs.delete(row.id);
    } finally {
      await lock.unlock();
    }
  } finally {
    ending.delete(row.id);
  }
  response.writeHead(204, tusHeaders()).end();
}

/** tus PATCH (core §3.2.3) into the agent; `revoked` aborts when the caller's access is revoked mid-body. */
export async function patchAgentUpload(context: AgentUploadContext, request: IncomingMessage, response: ServerResponse, row: AgentUploadRow, revoked?: AbortSignal): Promise<void> {
  const headers = tusHeaders();
  try {
    const offset = validate(request, row.id);
    if (row.verified === 0 && Date.now() > row.created_at + context.expirationMs) throw refuse(410, 'NOT_FOUND', 'the upload has expired');
    if (!context.connectedHere(row.agent_id)) {
      const url = await uploadUrlOf(context, row);
      if (url === undefined) throw new LightsoutError('AGENT_OFFLINE', 'the agent this upload goes to is offline', { hint: 'run the same command again when the agent is back: the upload resumes where its copy ends' });
      throw new PatchRefused(new LightsoutError('WRONG_GATEWAY', 'the agent this upload goes to is connected to another gateway', { details: { uploadUrl: url } }), 421);
    }
    const newOffset = await appendLocked(context, request, row, offset, revoked);
    response.writeHead(204, { ...headers, 'Upload-Offset': String(newOffset) }).end();
    // a body that stopped early (lock handed over, caller revoked, agent gone) may still be arriving
    drainRest(request);
  } catch (error) {
    sendRefusal(request, response, headers, error);
  }
}

async function appendLocked(context: AgentUploadContext, request: IncomingMessage, row: AgentUploadRow, offset: number, revoked?: AbortSignal): Promise<number> {
  const stop = new AbortController();
  request.once('close', () => stop.abort());
  const refuseRevoked = () => refuse(403, 'FORBIDDEN', 'access was revoked during the upload');
  if (revoked?.aborted) throw refuseRevoked();
  revoked?.addEventListener('abort', () => stop.abort(), { once: true });
  const lock = context.locker.newLock(row.id);
  try {
    // a newer request for this upload asks us to let go: end the body here, keeping what reached the agent
    await lock.lock(stop.signal, async () => stop.abort());
  } catch {
    throw refuse(423, 'CONFLICT', 'another request is writing this upload; retry');
  }
  try {
    const current = await context.rows.find(row.id);
    if (!current) throw refuse(404, 'NOT_FOUND', 'no such upload');
    const remaining = current.size - offset;
    const length = request.headers['content-length'];
    if (length !== undefined && Number(length) > Math.max(0, remaining)) throw refuse(413, 'PAYLOAD_TOO_LARGE', `the body is longer than the ${Math.max(0, remaining)} bytes the upload still needs`);
    if (current.verified === 1) {
      if (offset !== current.size) throw refuse(409, 'CONFLICT', `Upload-Offset ${offset} does not match the ${current.size} bytes the agent has`);
      return current.size;
    }
    let newOffset: number;
    try {
      newOffset = context.proofs.has(current.id) ? await appendProof(context, request, current, offset, stop.signal) : await appendToAgent(context, request, current, offset, stop.signal);
    } catch (error) {
      // stopped by a DELETE (while waiting for the agent's pull, say): the upload is gone, whatever ended the wait
      refuseIfTerminating(context, current);
      throw error;
    }
    refuseIfTerminating(context, current);
    if (revoked?.aborted) throw refuseRevoked();
    return newOffset;
  } finally {
    await lock.unlock();
  }
}

async function appendToAgent(context: AgentUploadContext, request: IncomingMessage, row: AgentUploadRow, offset: number, stop: AbortSignal): Promise<number> {
  let leg = context.legs.get(row.id);
  if (!leg) {
    const { cached } = await context.requestAgent(row.agent_id, 'media.fetch', { serverId: row.server_id, sha256: row.sha256, size: row.size, pullPath: pullPathOf(row.id) }, STATUS_TIMEOUT_MS);
    if (cached) {
      context.proofs.set(row.id, { hash: createHash('sha256'), offset: 0 });
      return appendProof(context, request, row, offset, stop);
    }
    leg = await context.legs.next(row.id, LEG_WAIT_MS, stop);
  }
  if (leg.offset !== offset) throw refuse(409, 'CONFLICT', `Upload-Offset ${offset} does not match the ${leg.offset} bytes the agent has`);
  const fed = await feed(request, leg, row.size - offset, stop);
  context.onBytes?.(fed.received);
  if (fed.tooLong) throw refuse(413, 'PAYLOAD_TOO_LARGE', `the body is longer than the ${row.size - offset} bytes the upload still needs`);
  // stopped by a DELETE: nothing more to confirm
  refuseIfTerminating(context, row);
  const sent = offset + fed.received;
  if (sent === row.size && !fed.legLost) return verdict(context, row, offset);
  return confirmed(context, row, offset, sent);
}

/**
 * The agent has written `sent` bytes (or its connection broke and it has
 * fewer): the offset the client continues from. tus 1.0 §3.2.3: a 204's
 * Upload-Offset is the request's plus what this request stored, so a
 * transfer that failed, or that the agent no longer knows, is an error
 * (the client asks HEAD and resumes from the agent's count), never a 204
 * with a lower offset, which tus clients take as "continue from there".
 */
async function confirmed(context: AgentUploadContext, row: AgentUploadRow, offset: number, sent: number): Promise<number> {
  const deadline = Date.now() + STATUS_TIMEOUT_MS;
  for (let wait = 1; ; wait = Math.min(CONFIRM_POLL_MAX_MS, wait * 2)) {
    const transfer = await transferOf(context, row);
    if (transfer.state === 'cached') return verdict(context, row, offset);
    // the agent's pull ended (it restarted, or gave up): its file holds what it wrote
    if (transfer.state === 'partial') return atLeast(offset, Math.min(transfer.bytes, sent), row);
    if (transfer.state !== 'fetching') throw notStored(row, transfer);
    const leg = context.legs.get(row.id);
    // bytes written into a connection that broke may not have reached the agent: its number is the truth
    if (transfer.bytes >= sent || !leg || Date.now() > deadline) return atLeast(offset, Math.min(transfer.bytes, sent), row);
    await delay(wait);
  }
}

/**
 * Every byte was sent: the agent hashes as it writes, so its verdict follows
 * at once; verified or refused (460). Only this upload's own transfer ending
 * cached verifies it: `verified: false` is the image cached from elsewhere
 * (this transfer forgotten), which proves nothing of the bytes this client
 * sent. An older agent does not say (`verified` absent): its own transfer's
 * `cached` is taken, as before.
 */
async function verdict(context: AgentUploadContext, row: AgentUploadRow, offset: number): Promise<number> {
  const deadline = Date.now() + VERDICT_WAIT_MS;
  for (let wait = 1; ; wait = Math.min(CONFIRM_POLL_MAX_MS, wait * 2)) {
    const transfer = await transferOf(context, row);
    if (transfer.state === 'cached' && transfer.verified !== false) {
      refuseIfTerminating(context, row);
      await markVerified(context, row);
      return row.size;
    }
    if (transfer.state === 'failed' && transfer.error?.code === 'CHECKSUM_MISMATCH') {
      await context.rows.remove(row.id);
      throw new LightsoutError('CHECKSUM_MISMATCH', 'the uploaded bytes do not match the announced SHA-256; the upload was deleted', { details: { expected: row.sha256 } });
    }
    if (transfer.state === 'partial') return atLeast(offset, Math.min(transfer.bytes, row.size), row);
    if (transfer.state !== 'fetching') throw notStored(row, transfer);
    if (Date.now() > deadline) throw new LightsoutError('AGENT_TIMEOUT', 'the agent did not confirm the image in time', { hint: 'run the same command again: the upload resumes' });
    await delay(wait);
  }
}

async function markVerified(context: AgentUploadContext, row: AgentUploadRow): Promise<void> {
  await context.rows.markVerified(row.id);
  context.onVerified?.(recordOfRow({ ...row, verified: 1 }));
}

/** The agent's count as a PATCH's new offset, when it is one: below the request's offset it is not (tus 1.0 §3.2.3). */
function atLeast(offset: number, count: number, row: AgentUploadRow): number {
  if (count >= offset) return count;
  throw new LightsoutError('AGENT_OFFLINE', `the agent holds ${count} bytes of this upload, fewer than the ${offset} it had: it lost some`, { hint: 'run the same command again: the upload resumes where the agent\'s copy ends', details: { uploadId: row.id } });
}

/**
 * The agent did not store this request's bytes: its transfer failed (a full
 * disk: its own code and the system's message), or it no longer knows the
 * upload. A 5xx, which tus clients retry after a HEAD: the agent's own code
 * when it is one, AGENT_OFFLINE otherwise (a refusal the agent met, such as
 * a full cache, is not the client's to fix by changing its request).
 */
function notStored(row: AgentUploadRow, transfer: AgentMediaTransfer): LightsoutError {
  const hint = 'run the same command again: the upload resumes where the agent\'s copy ends';
  if (transfer.state === 'failed') {
    const reported = transfer.error?.code;
    const code = isErrorCode(reported) && httpStatusOf(reported) >= 500 ? reported : 'AGENT_OFFLINE';
    return new LightsoutError(code, `the agent could not store the image: ${transfer.error?.message ?? 'unknown error'}`, { hint, details: { uploadId: row.id, agentCode: reported ?? null } });
  }
  return new LightsoutError('AGENT_OFFLINE', 'the agent no longer has a transfer of this upload (it restarted, or dropped it)', { hint, details: { uploadId: row.id } });
}

/** The agent had the image already: hash the body here (nothing kept) to prove the caller holds the same bytes. */
async function appendProof(context: AgentUploadContext, request: IncomingMessage, row: AgentUploadRow, offset: number, stop: AbortSignal): Promise<number> {
  const proof = context.proofs.get(row.id)!;
  if (proof.offset !== offset) throw refuse(409, 'CONFLICT', `Upload-Offset ${offset} does not match the ${proof.offset} bytes received`);
  const remaining = row.size - offset;
  let tooLong = false;
  await new Promise<void>((resolve) => {
    const done = () => {
      request.off('data', onData);
      request.off('end', done);
      request.off('close', done);
      stop.removeEventListener('abort', done);
      request.pause();
      resolve();
    };
    const onData = (chunk: Buffer) => {
      if (proof.offset + chunk.byteLength - offset > remaining) {
        tooLong = true;
        return done();
      }
      proof.hash.update(chunk);
      proof.offset += chunk.byteLength;
      context.onBytes?.(chunk.byteLength);
    };
    request.on('data', onData);
    request.once('end', done);
    request.once('close', done);
    stop.addEventListener('abort', done, { once: true });
    if (stop.aborted) done();
  });
  if (tooLong) throw refuse(413, 'PAYLOAD_TOO_LARGE', `the body is longer than the ${remaining} bytes the upload still needs`);
  refuseIfTerminating(context, row);
  if (proof.offset < row.size) return proof.offset;
  context.proofs.delete(row.id);
  const actual = proof.hash.digest('hex');
  if (actual !== row.sha256) {
    await context.rows.remove(row.id);
    throw new LightsoutError('CHECKSUM_MISMATCH', 'the uploaded bytes do not match the announced SHA-256; the upload was deleted', { details: { expected: row.sha256, actual } });
  }
  await markVerified(context, row);
  return row.size;
}

async function transferOf(context: AgentUploadContext, row: AgentUploadRow): Promise<AgentMediaTransfer> {
  // this upload's own transfer: another upload of the same image may be storing it too (each proves its own bytes)
  const status = await context.requestAgent(row.agent_id, 'media.status', { serverId: row.server_id, sha256: row.sha256, pullPath: pullPathOf(row.id) }, STATUS_TIMEOUT_MS);
  return status.transfer ?? { sha256: row.sha256, state: 'absent', bytes: 0, size: 0 };
}

