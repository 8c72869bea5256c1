import type { BulkSelector } from '@lightsout/shared';

/** The columns a selector reads (a row of the servers table). */
export interface SelectableServer {
  id: string;
  rack: string;
  datacenter: string;
  region: string;
  /** JSON object, as stored. */
  labels: string;
  power: string | null;
}

/**
 * Whether a server matches a bulk selector: every given criterion must hold
 * (an empty selector matches everything). Pure: tenant and grants are
 * applied before, by the caller, on the rows it may see at all.
 */
export function selectorMatches(selector: BulkSelector, server: SelectableServer): boolean {
  if (selector.ids !== undefined && !selector.ids.includes(server.id)) return false;
  if (selector.rack !== undefined && server.rack !== selector.rack) return false;
  if (selector.datacenter !== undefined && server.datacenter !== selector.datacenter) return false;
  if (selector.region !== undefined && server.region !== selector.region) return false;
  if (selector.power !== undefined && powerOf(server) !== selector.power) return false;
  if (selector.labels !== undefined) {
    const labels = parseLabels(server.labels);
    for (const [key, value] of Object.entries(selector.labels)) if (labels[key] !== value) return false;
  }
  return true;
}

function powerOf(server: SelectableServer): 'on' | 'off' | 'unknown' {
  return server.power === 'on' || server.power === 'off' ? server.power : 'unknown';
}

function parseLabels(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * `key=value` pairs (the CLI's `--selector role=web,rack=r1`) into a
 * selector's labels; undefined for a malformed pair.
 */
export function parseLabelPairs(text: string): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')) {
    const equals = pair.indexOf('=');
    if (equals <= 0) return undefined;
    labels[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return labels;
}
