import { setTimeout as delay } from 'node:timers/promises';
import { LightsoutError } from '@lightsout/shared';
import { type VirtualMediaSlotState, redactedImage } from '../media/types.js';
import type { RedfishClient } from './client.js';
import { type JsonObject, actionTarget, booleanAt, stringAt } from './json.js';
import { INSERT_LADDER, type VirtualMediaQuirkName, buildInsertAttempt } from './quirks/index.js';

/**
 * VirtualMedia InsertMedia / EjectMedia (DSP2046 VirtualMedia v1.3+) with the
 * vendor fallbacks of the quirk table. A refused body (400/415/422) climbs the
 * ladder; anything else (auth, unreachable, 5xx) is the real answer.
 */
export interface VirtualMediaState {
  slotPath: string;
  inserted: boolean;
  image: string | null;
  /** DSP2046 ConnectedVia: URI, Applet, Oem, NotConnected. */
  connectedVia: string | null;
}

export interface InsertOptions {
  /** Quirks known to be needed (configured, or learned from an earlier insert); tried first. */
  quirks?: readonly VirtualMediaQuirkName[];
  /** How long to wait for the slot to report Inserted after the BMC accepted the request. */
  settleMs?: number;
}

const BODY_REFUSED = new Set([400, 415, 422]);
/**
 * Redfish Base registry messages that say the request body was the problem
 * (DSP8011 Base: ActionParameter*, Property*, MalformedJSON, …). A refusal
 * naming something else (the BMC could not fetch the image, a resource is in
 * use) will not be fixed by another body: it is reported as it is.
 */
const BODY_MESSAGE = /ActionParameter|Property|MalformedJSON|UnrecognizedRequestBody|QueryNotSupported/;
/**
 * A refusal under a general or vendor message ID (iDRAC: Base.1.x.GeneralError
 * with IDRAC.2.x.RACnnnn) that names a parameter the ladder adds or leaves
 * out is about the body too: sushy retries such a GeneralError with
 * TransferProtocolType or TransferMethod when its message names them.
 */
const BODY_PARAMETER = /TransferProtocolType|TransferMethod|\bInserted\b|WriteProtected/;
/** Some BMCs (and bmcsim) fetch the whole image before answering InsertMedia: give it time. */
const INSERT_TIMEOUT_MS = 15 * 60_000;
const INSERT_ACTION = '#VirtualMedia.InsertMedia';
const EJECT_ACTION = '#VirtualMedia.EjectMedia';

export function slotStateOf(slotPath: string, slot: JsonObject): VirtualMediaState {
  const image = stringAt(slot, 'Image') ?? null;
  return {
    slotPath,
    inserted: booleanAt(slot, 'Inserted') ?? (image !== null && image !== ''),
    image: image === '' ? null : image,
    connectedVia: stringAt(slot, 'ConnectedVia') ?? null,
  };
}

export async function readSlot(client: RedfishClient, slotPath: string): Promise<VirtualMediaState> {
  return slotStateOf(slotPath, (await client.get(slotPath)).body);
}

/**
 * Inserts `imageUrl` into an empty slot; returns the quirks that made the BMC
 * accept it. An occupied slot is refused, never emptied here: whose image it
 * is, and whether to replace it, is the caller's decision (MediaService).
 */
export async function insertMedia(client: RedfishClient, slotPath: string, imageUrl: string, options: InsertOptions = {}): Promise<VirtualMediaQuirkName[]> {
  const { body: slot } = await client.get(slotPath);
  const current = slotStateOf(slotPath, slot);
  if (current.inserted) {
    throw new LightsoutError('MEDIA_IN_USE', 'the virtual CD already holds an image', { details: { slotPath, image: redactedImage(current.image) } });
  }
  const target = actionTarget(slot, INSERT_ACTION);
  let used: VirtualMediaQuirkName[];
  if (!target) {
    used = ['patch-without-action'];
    const attempt = buildInsertAttempt(imageUrl, used);
    const { etag } = await client.get(slotPath);
    await client.request('PATCH', slotPath, { body: attempt.body, timeoutMs: INSERT_TIMEOUT_MS, taskTimeoutMs: INSERT_TIMEOUT_MS, ...(etag ? { ifMatch: etag } : {}) });
  } else {
    used = await postWithLadder(client, target, imageUrl, options.quirks ?? []);
  }
  await waitInserted(client, slotPath, imageUrl, options.settleMs ?? 10_000);
  return used;
}

async function postWithLadder(client: RedfishClient, target: string, imageUrl: string, known: readonly VirtualMediaQuirkName[]): Promise<VirtualMediaQuirkName[]> {
  const ladder = [known.filter((name) => name !== 'patch-without-action'), ...INSERT_LADDER];
  const tried = new Set<string>();
  let lastRefusal: LightsoutError | undefined;
  for (const quirks of ladder) {
    const key = [...quirks].sort().join(',');
    if (tried.has(key)) continue;
    tried.add(key);
    const attempt = buildInsertAttempt(imageUrl, quirks);
    try {
      await client.request('POST', target, { body: attempt.body, timeoutMs: INSERT_TIMEOUT_MS, taskTimeoutMs: INSERT_TIMEOUT_MS });
      return [...quirks];
    } catch (error) {
      const status = error instanceof LightsoutError ? error.details?.status : undefined;
      if (typeof status !== 'number' || !BODY_REFUSED.has(status)) throw error;
      const messageIds = ((error as LightsoutError).details?.messageIds as string[] | undefined) ?? [];
      const messages = ((error as LightsoutError).details?.messages as string[] | undefined) ?? [];
      const aboutTheBody = messageIds.length === 0 || messageIds.some((id) => BODY_MESSAGE.test(id)) || messages.some((message) => BODY_PARAMETER.test(message));
      if (!aboutTheBody) throw error;
      lastRefusal = error as LightsoutError;
    }
  }
  throw new LightsoutError('BMC_PROTOCOL_ERROR', `the BMC refused every known form of InsertMedia (last: ${lastRefusal?.message ?? 'no answer'})`, {
    cause: lastRefusal,
    details: { tried: [...tried], last: lastRefusal?.details },
    hint: 'Capture the BMC answer (details.last) and add a quirk for this firmware.',
  });
}

/** Bounded poll: a BMC may fetch the start of the image before it reports the medium inserted. */
async function waitInserted(client: RedfishClient, slotPath: string, imageUrl: string, settleMs: number): Promise<void> {
  const deadline = Date.now() + settleMs;
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const state = await readSlot(client, slotPath);
    if (state.inserted) return;
    if (Date.now() >= deadline) break;
    await delay(Math.min(250 * (attempt + 1), 1000));
  }
  throw new LightsoutError('BMC_PROTOCOL_ERROR', 'the BMC accepted InsertMedia but does not report the image inserted', {
    details: { slotPath, imageUrl },
    hint: 'The BMC may be unable to reach the agent media URL over the out-of-band network.',
  });
}

/**
 * Idempotent: a slot with nothing inserted is left alone (BMCs answer 400 to EjectMedia on an empty slot).
 * Returns the slot as it was before, so the caller can say what was ejected, if anything; only once the
 * slot reads back empty: the caller lets go of the image then, and an image still mounted would be
 * read by the BMC from a URL nobody answers for.
 */
export async function ejectMedia(client: RedfishClient, slotPath: string, settleMs = 10_000): Promise<VirtualMediaSlotState> {
  const { body: slot, etag } = await client.get(slotPath);
  const before = slotStateOf(slotPath, slot);
  if (!before.inserted) return before;
  const target = actionTarget(slot, EJECT_ACTION);
  if (target) {
    await client.request('POST', target, { body: {} });
  } else {
    await client.request('PATCH', slotPath, { body: { Image: null, Inserted: false }, ...(etag ? { ifMatch: etag } : {}) });
  }
  const deadline = Date.now() + settleMs;
  for (let attempt = 0; (await readSlot(client, slotPath)).inserted; attempt += 1) {
    if (Date.now() >= deadline || attempt >= 200) {
      throw new LightsoutError('BMC_PROTOCOL_ERROR', 'the BMC accepted the eject but still reports the image inserted', {
        details: { slotPath, image: redactedImage(before.image) },
        hint: 'Try the eject again; the image stays mounted until the slot reads back empty.',
      });
    }
    await delay(Math.min(250 * (attempt + 1), 1000));
  }
  return before;
}
