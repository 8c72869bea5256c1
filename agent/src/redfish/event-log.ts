import { LightsoutError, type SelEntry } from '@lightsout/shared';
import type { RedfishClient } from './client.js';
import { type JsonObject, actionTarget, inlineMembers, linkAt, memberLinks, stringAt } from './json.js';

/**
 * The system event log as Redfish LogService entries (DSP2046 LogEntry). The
 * service is found under the system first, then the managers; of the logs a
 * BMC offers, the IPMI-style SEL / EventLog is the one the API means.
 */
const MAX_ENTRIES = 1024;
const MAX_PAGES = 16;
const PREFERRED_LOG = /^(sel|eventlog|ipmisel|log1)$/i;

export async function findEventLog(client: RedfishClient, ownerPaths: readonly string[]): Promise<string> {
  const candidates: string[] = [];
  for (const ownerPath of ownerPaths) {
    const owner = (await client.get(ownerPath)).body;
    const servicesPath = linkAt(owner, 'LogServices');
    if (!servicesPath) continue;
    const services = memberLinks((await client.get(servicesPath)).body);
    const preferred = services.find((path) => PREFERRED_LOG.test(path.replace(/\/+$/, '').split('/').pop() ?? ''));
    if (preferred) return preferred;
    candidates.push(...services);
  }
  if (candidates[0]) return candidates[0];
  throw new LightsoutError('BMC_UNSUPPORTED', 'the BMC exposes no Redfish log service');
}

export async function readEventLog(client: RedfishClient, logServicePath: string): Promise<SelEntry[]> {
  const service = (await client.get(logServicePath)).body;
  const entriesPath = linkAt(service, 'Entries');
  if (!entriesPath) return [];
  const entries: JsonObject[] = [];
  let pagePath: string | undefined = entriesPath;
  for (let page = 0; pagePath && page < MAX_PAGES && entries.length < MAX_ENTRIES; page += 1) {
    const collection: JsonObject = (await client.get(pagePath)).body;
    const inline = inlineMembers(collection).filter((member) => 'Message' in member || 'Created' in member || 'EntryType' in member);
    if (inline.length > 0) {
      entries.push(...inline);
    } else {
      for (const memberPath of memberLinks(collection)) {
        if (entries.length >= MAX_ENTRIES) break;
        entries.push((await client.get(memberPath)).body);
      }
    }
    const next = stringAt(collection, 'Members@odata.nextLink');
    pagePath = next?.startsWith('/') ? next : undefined;
  }
  return entries.slice(0, MAX_ENTRIES).map(entryOf);
}

export function entryOf(entry: JsonObject, index: number): SelEntry {
  const id = Number.parseInt(stringAt(entry, 'Id') ?? '', 10);
  const created = stringAt(entry, 'Created');
  return {
    id: Number.isSafeInteger(id) ? id : index + 1,
    // an unset BMC clock reports the epoch; the API says null for "unknown"
    time: created && !created.startsWith('1970-') ? created : null,
    sensor: stringAt(entry, 'SensorType') ?? stringAt(entry, 'MessageId') ?? '',
    event: stringAt(entry, 'Message') ?? '',
    direction: stringAt(entry, 'EntryCode') === 'Deassert' ? 'deasserted' : 'asserted',
    raw: '',
  };
}

export async function clearEventLog(client: RedfishClient, logServicePath: string): Promise<void> {
  const service = (await client.get(logServicePath)).body;
  const target = actionTarget(service, '#LogService.ClearLog');
  if (!target) throw new LightsoutError('BMC_UNSUPPORTED', 'the BMC log service cannot be cleared over Redfish');
  await client.request('POST', target, { body: {} });
}
