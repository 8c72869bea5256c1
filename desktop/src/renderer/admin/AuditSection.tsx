import type { AuditPage } from '@lightsout/shared';
import { useCallback, useEffect, useState } from 'react';
import type { Platform } from '../platform/index.js';
import type { AdminApi } from './admin-api.js';
import { actorLabel, type AuditSearch, auditQuery, auditTime, EMPTY_AUDIT_SEARCH, errorText } from './admin-model.js';
import { EmptyRow, ErrorLine } from './common.js';

const PAGE = 100;
type AuditRow = AuditPage['records'][number];

/**
 * The audit log, newest first: search by who acted (a username), the
 * server, the action (or its family, `grant` for `grant.*`) and a time
 * range; more pages on demand; the whole log (in the caller's scope) as
 * JSON lines for a SIEM or `lightsout audit verify`.
 */
export function AuditSection({ api, platform, baseUrl }: { api: AdminApi; platform: Platform; baseUrl: string }) {
  const [form, setForm] = useState<AuditSearch>(EMPTY_AUDIT_SEARCH);
  const [search, setSearch] = useState<AuditSearch>(EMPTY_AUDIT_SEARCH);
  const [rows, setRows] = useState<AuditRow[] | null>(null);
  const [next, setNext] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [exporting, setExporting] = useState(false);

  const fetchPage = useCallback(
    async (applied: AuditSearch, before: number | null) => {
      const built = auditQuery(applied, { limit: PAGE, before });
      if ('error' in built) {
        setError(built.error);
        return;
      }
      try {
        const page = await api.audit(built.query);
        setRows((current) => (before === null ? page.records : [...(current ?? []), ...page.records]));
        setNext(page.next);
        setError(null);
      } catch (caught) {
        setError(errorText(caught));
        if (before === null) setRows([]);
      }
    },
    [api],
  );
  useEffect(() => {
    setRows(null);
    void fetchPage(search, null);
  }, [search, fetchPage]);

  const exportLog = async () => {
    setExporting(true);
    try {
      // A stream of JSON lines, saved as a file: fetched with the bearer token (a plain link could not send it).
      const response = await fetch(`${baseUrl}/v1/audit/export`, { headers: await authorization(platform) });
      if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
      await platform.saveFile(`lightsout-audit-${new Date().toISOString().slice(0, 10)}.jsonl`, await response.blob());
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setExporting(false);
    }
  };

  const field = (key: keyof AuditSearch, label: string, props: { type?: string; placeholder?: string } = {}) => (
    <label>
      {label} <input type={props.type ?? 'text'} value={form[key]} placeholder={props.placeholder} onChange={(event) => setForm({ ...form, [key]: event.target.value })} data-testid={`audit-${key}`} />
    </label>
  );

  return (
    <div className="admin-section" data-testid="admin-audit">
      <form
        className="admin-form audit-form"
        onSubmit={(event) => {
          event.preventDefault();
          setSearch({ ...form });
        }}
      >
        {field('user', 'User', { placeholder: 'username' })}
        {field('server', 'Server', { placeholder: 'server id' })}
        {field('action', 'Action', { placeholder: 'e.g. grant' })}
        {field('since', 'From', { type: 'datetime-local' })}
        {field('until', 'To', { type: 'datetime-local' })}
        <button className="primary" type="submit" data-testid="audit-search">Search</button>
        <button
          type="button"
          onClick={() => {
            setForm(EMPTY_AUDIT_SEARCH);
            setSearch(EMPTY_AUDIT_SEARCH);
          }}
        >
          Clear
        </button>
        <span className="spacer" />
        <button type="button" onClick={() => void exportLog()} disabled={exporting} title="Every record you may read, as JSON lines (lightsout audit verify checks the chain)" data-testid="audit-export">{exporting ? 'Exporting…' : 'Export…'}</button>
      </form>
      <ErrorLine error={error} />
      <table className="data admin-table audit-table" data-testid="audit-table">
        <thead><tr><th>Time</th><th>User</th><th>Action</th><th>Target</th><th>Outcome</th><th>Tenant</th><th>From</th><th>Details</th></tr></thead>
        <tbody>
          {rows === null ? <EmptyRow columns={8}>Loading…</EmptyRow> : null}
          {rows?.length === 0 ? <EmptyRow columns={8}>No records match.</EmptyRow> : null}
          {rows?.map((record) => {
            const time = auditTime(record.time);
            return (
              <tr key={record.seq} data-testid="audit-row" data-action={record.action} data-actor={actorLabel(record)} data-seq={record.seq}>
                <td title={`${time.utc} (UTC)`}>{time.local}</td>
                <td title={record.subject ?? undefined}>{actorLabel(record)}</td>
                <td>{record.action}</td>
                <td title={record.target ?? undefined}>{record.targetName ?? record.target ?? '—'}</td>
                <td className={record.outcome === 'success' ? 'status-ok' : 'status-error'}>{record.outcome}</td>
                <td>{record.tenant ?? '—'}</td>
                <td>{record.sourceIp ?? '—'}</td>
                <td className="details" title={record.details === null ? undefined : JSON.stringify(record.details, null, 2)}>{record.details === null ? '' : JSON.stringify(record.details)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {next !== null ? <p><button onClick={() => void fetchPage(search, next)} data-testid="audit-more">Older records</button></p> : null}
    </div>
  );
}

async function authorization(platform: Platform): Promise<Record<string, string>> {
  const token = await platform.auth.accessToken();
  return token === null ? {} : { authorization: `Bearer ${token}` };
}
