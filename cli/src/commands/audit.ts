import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type AuditChainVerdict, type AuditPage, type AuditRecord, LightsoutError, auditCanonicalForm, verifyAuditChain } from '@lightsout/shared';
import { json, printable, table } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

function parseLines(text: string, source: string): AuditRecord[] {
  const records: AuditRecord[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as AuditRecord);
    } catch {
      throw new LightsoutError('MALFORMED_MESSAGE', `${source} line ${index + 1} is not JSON`, { hint: 'pass the file written by `lightsout audit export`' });
    }
  }
  return records;
}

/** The export as text, from the live relay (with the caller's login or LIGHTSOUT_TOKEN), and whether it is one tenant's slice. */
async function fetchExport(context: CommandContext): Promise<{ text: string; partial: boolean }> {
  const response = await (await apiFor(context)).raw('GET', '/v1/audit/export', { headers: { accept: 'application/x-ndjson, application/json' } });
  return { text: await response.text(), partial: (response.headers.get('x-lightsout-audit-scope') ?? 'all') !== 'all' };
}

/** An ISO 8601 time as epoch milliseconds, or VALIDATION_FAILED naming the option. */
function epochMs(option: string, value: string): number {
  const time = Date.parse(value);
  if (!Number.isFinite(time)) throw new LightsoutError('VALIDATION_FAILED', `${option} ${value} is not a time`, { hint: 'ISO 8601, e.g. 2026-03-01T08:00Z' });
  return time;
}

/** `audit search`: GET /v1/audit newest first with the relay's filters; who acted by username (the relay resolves it). */
export async function auditSearch(context: CommandContext, options: { user?: string; server?: string; action?: string; since?: string; until?: string; limit?: number; json?: boolean }): Promise<void> {
  const query = new URLSearchParams({ order: 'desc', limit: String(options.limit ?? 50) });
  if (options.user !== undefined) query.set('user', options.user);
  if (options.server !== undefined) query.set('server', options.server);
  if (options.action !== undefined) query.set('action', options.action);
  if (options.since !== undefined) query.set('since', String(epochMs('--since', options.since)));
  if (options.until !== undefined) query.set('until', String(epochMs('--until', options.until)));
  const page = await (await apiFor(context)).get<AuditPage>(`/v1/audit?${query.toString()}`);
  if (options.json) {
    context.output.out(json(page));
    return;
  }
  context.output.out(
    table(
      ['TIME', 'USER', 'ACTION', 'TARGET', 'OUTCOME', 'TENANT', 'FROM'],
      page.records.map((record) => [new Date(record.time).toISOString(), record.actor ?? record.subject ?? 'system', record.action, record.targetName ?? record.target, record.outcome, record.tenant, record.sourceIp]),
    ),
  );
}

export async function auditExport(context: CommandContext): Promise<void> {
  context.output.out((await fetchExport(context)).text);
}

/**
 * `audit verify [--file F] [--partial]`: recompute every record's hash and
 * follow the chain. A tenant admin's export holds only their tenant's
 * records, whose links point at records they cannot see: then (`--partial`,
 * or the relay says so) each record's own hash is checked, not the links.
 */
export async function auditVerify(context: CommandContext, options: { file?: string; partial?: boolean; json?: boolean }): Promise<void> {
  const source = options.file === undefined ? await fetchExport(context) : { text: await readFile(options.file, 'utf8'), partial: options.partial === true };
  const records = parseLines(source.text, options.file ?? 'the export');
  let verdict: AuditChainVerdict;
  if (!source.partial) {
    verdict = verifyAuditChain(records, sha256Hex);
  } else {
    context.output.err("note: one tenant's slice of the log: each record's hash is checked; links to other tenants' records are not checkable\n");
    const bad = records.find(({ hash, ...rest }) => sha256Hex(auditCanonicalForm(rest)) !== hash);
    verdict =
      bad === undefined
        ? { ok: true, records: records.length, lastHash: records.at(-1)?.hash ?? '', lastSeq: records.at(-1)?.seq ?? null }
        : { ok: false, records: records.length, seq: bad.seq, problem: 'hash-mismatch', message: `record ${bad.seq} was changed after it was written` };
  }
  if (options.json) context.output.out(json(verdict));
  if (!verdict.ok) {
    throw new LightsoutError('CHECKSUM_MISMATCH', `audit chain broken at record ${verdict.seq}: ${verdict.message}`, { details: { seq: verdict.seq, problem: verdict.problem } });
  }
  if (!options.json) context.output.out(printable(`audit chain ok: ${verdict.records} records, last ${verdict.lastSeq ?? '-'} ${verdict.lastHash}\n`, { newlines: true }));
}
