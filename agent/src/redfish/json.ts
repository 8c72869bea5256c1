import { LightsoutError } from '@lightsout/shared';

/**
 * Typed reading of untrusted Redfish documents (DSP0266 §9: JSON resources
 * linked by `@odata.id`). A BMC is a peer we do not control: every accessor
 * checks the type it returns, and collections are capped so a hostile or
 * broken BMC cannot make the agent walk forever.
 */
export type JsonObject = Record<string, unknown>;

/** More members than this in one collection is treated as a broken BMC. */
export const MAX_COLLECTION_MEMBERS = 512;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses a response body; anything but a JSON object is a protocol error. */
export function parseJsonObject(text: string, where: string): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new LightsoutError('BMC_PROTOCOL_ERROR', `BMC sent malformed JSON for ${where}`, {
      cause: error,
      details: { where, excerpt: text.slice(0, 120) },
    });
  }
  if (!isJsonObject(parsed)) {
    throw new LightsoutError('BMC_PROTOCOL_ERROR', `BMC sent a JSON ${Array.isArray(parsed) ? 'array' : typeof parsed} for ${where}, expected an object`, {
      details: { where },
    });
  }
  return parsed;
}

export function stringAt(object: JsonObject | undefined, key: string): string | undefined {
  const value = object?.[key];
  return typeof value === 'string' ? value : undefined;
}

export function numberAt(object: JsonObject | undefined, key: string): number | undefined {
  const value = object?.[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function booleanAt(object: JsonObject | undefined, key: string): boolean | undefined {
  const value = object?.[key];
  return typeof value === 'boolean' ? value : undefined;
}

export function objectAt(object: JsonObject | undefined, key: string): JsonObject | undefined {
  const value = object?.[key];
  return isJsonObject(value) ? value : undefined;
}

export function arrayAt(object: JsonObject | undefined, key: string): unknown[] {
  const value = object?.[key];
  return Array.isArray(value) ? value.slice(0, MAX_COLLECTION_MEMBERS) : [];
}

export function stringsAt(object: JsonObject | undefined, key: string): string[] | undefined {
  const value = object?.[key];
  if (!Array.isArray(value)) return undefined;
  return value.filter((item): item is string => typeof item === 'string').slice(0, MAX_COLLECTION_MEMBERS);
}

/** The `@odata.id` of a link object (`{"@odata.id": "/redfish/v1/…"}`). */
export function linkAt(object: JsonObject | undefined, key: string): string | undefined {
  return odataId(object?.[key]);
}

export function odataId(value: unknown): string | undefined {
  if (!isJsonObject(value)) return undefined;
  const id = value['@odata.id'];
  return typeof id === 'string' && id.startsWith('/') ? id : undefined;
}

/** Member links of a collection (DSP0266 §9.4 resource collections). */
export function memberLinks(collection: JsonObject): string[] {
  return arrayAt(collection, 'Members')
    .map(odataId)
    .filter((id): id is string => id !== undefined);
}

/** Inline members (some BMCs expand them), keeping only objects. */
export function inlineMembers(collection: JsonObject): JsonObject[] {
  return arrayAt(collection, 'Members').filter(isJsonObject);
}

/** The target URI of an action (`Actions["#ComputerSystem.Reset"].target`). */
export function actionTarget(resource: JsonObject, action: string): string | undefined {
  const target = stringAt(objectAt(objectAt(resource, 'Actions'), action), 'target');
  return target?.startsWith('/') ? target : undefined;
}

export function actionObject(resource: JsonObject, action: string): JsonObject | undefined {
  return objectAt(objectAt(resource, 'Actions'), action);
}

/** Redfish error payload (DSP0266 §9.6 error responses): message ids and messages, for diagnostics. */
export function redfishErrorSummary(body: JsonObject | undefined): { messageIds: string[]; messages: string[] } {
  const error = objectAt(body, 'error');
  const messageIds: string[] = [];
  const messages: string[] = [];
  const code = stringAt(error, 'code');
  if (code) messageIds.push(code);
  const message = stringAt(error, 'message');
  if (message) messages.push(message);
  // A Task resource carries its messages in Messages (DSP2046 Task); iLO 4 spells the ID MessageID.
  for (const info of [...arrayAt(error, '@Message.ExtendedInfo'), ...arrayAt(body, 'Messages')].slice(0, 16)) {
    if (!isJsonObject(info)) continue;
    const id = stringAt(info, 'MessageId') ?? stringAt(info, 'MessageID');
    const text = stringAt(info, 'Message');
    if (id) messageIds.push(id);
    if (text) messages.push(text);
  }
  return { messageIds, messages };
}
