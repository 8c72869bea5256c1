import { mediaUrlPolicyEntryError, type Role } from '@lightsout/shared';
import { useCallback, useEffect, useState } from 'react';
import { Dialog } from '../components/Dialog.js';
import type { AdminApi } from './admin-api.js';
import { EmptyRow, ErrorLine, useAction, useLoaded } from './common.js';
import { KIND_LABELS, RECORDED_KINDS, type RecordingChoice, type RecordingPolicyDraft, type RetentionChoice, recordingDraftOf, recordingRulesOf, retentionText } from './recording-policy-model.js';

/**
 * Tenants (provider admins: list and create, with the MFA requirement) and
 * the policies the relay has an API for, for the tenant in view: which hosts
 * the agents may fetch ISO images from (media URL policy) and the automation
 * (MCP) policy's tools, and which consoles are recorded and how long
 * recordings are kept.
 */
export function TenantsSection({ api, tenant, role, onTenantsChanged }: { api: AdminApi; tenant: string; role: Role; onTenantsChanged(): void }) {
  return (
    <div className="admin-section" data-testid="admin-tenants">
      {role === 'provider-admin' ? <TenantList api={api} onChanged={onTenantsChanged} /> : null}
      <h3>Policies of tenant {tenant}</h3>
      <MediaUrlPolicyEditor api={api} tenant={tenant} />
      <RecordingPolicyEditor api={api} tenant={tenant} />
      <AutomationPolicySummary api={api} tenant={tenant} />
    </div>
  );
}

function TenantList({ api, onChanged }: { api: AdminApi; onChanged(): void }) {
  const load = useCallback(() => api.tenants(), [api]);
  const { data, error, reload } = useLoaded(load);
  const action = useAction();
  const [draft, setDraft] = useState({ id: '', name: '', requireMfa: false });
  const [mfaChange, setMfaChange] = useState<{ tenant: string; requireMfa: boolean } | null>(null);
  return (
    <>
      <h3>Tenants</h3>
      <form
        className="admin-form"
        onSubmit={(event) => {
          event.preventDefault();
          void action.run(() => api.createTenant({ id: draft.id.trim(), name: draft.name.trim(), requireMfa: draft.requireMfa })).then(async (ok) => {
            if (!ok) return;
            setDraft({ id: '', name: '', requireMfa: false });
            await reload();
            onChanged();
          });
        }}
      >
        <label>Id <input type="text" value={draft.id} onChange={(event) => setDraft({ ...draft, id: event.target.value })} placeholder="acme" required data-testid="tenant-create-id" /></label>
        <label>Name <input type="text" value={draft.name} onChange={(event) => setDraft({ ...draft, name: event.target.value })} placeholder="ACME Corp" required data-testid="tenant-create-name" /></label>
        <label><input type="checkbox" checked={draft.requireMfa} onChange={(event) => setDraft({ ...draft, requireMfa: event.target.checked })} /> Require a second factor</label>
        <button className="primary" type="submit" disabled={action.busy} data-testid="tenant-create-submit">Create tenant</button>
      </form>
      <ErrorLine error={action.error ?? error} />
      <table className="data admin-table" data-testid="tenants-table">
        <thead><tr><th>Id</th><th>Name</th><th>Second factor</th><th>Created</th></tr></thead>
        <tbody>
          {data === null ? <EmptyRow columns={4}>Loading…</EmptyRow> : null}
          {data?.map((tenant) => (
            <tr key={tenant.id} data-testid="tenant-row" data-tenant={tenant.id}>
              <td>{tenant.id}</td>
              <td>{tenant.name}</td>
              <td>
                {tenant.requireMfa ? 'required' : 'optional'}{' '}
                <button className="link" onClick={() => setMfaChange({ tenant: tenant.id, requireMfa: !tenant.requireMfa })} data-testid="tenant-mfa-toggle">{tenant.requireMfa ? 'Stop requiring' : 'Require'}</button>
              </td>
              <td title={tenant.createdAt}>{new Date(tenant.createdAt).toLocaleDateString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {mfaChange ? (
        <Dialog
          title={`${mfaChange.requireMfa ? 'Require' : 'Stop requiring'} a second factor in ${mfaChange.tenant}?`}
          testId="tenant-mfa-dialog"
          onCancel={() => setMfaChange(null)}
          actions={
            <>
              <button onClick={() => setMfaChange(null)}>Cancel</button>
              <button
                className={mfaChange.requireMfa ? 'primary' : 'danger'}
                data-testid="tenant-mfa-confirm"
                onClick={() =>
                  void action.run(() => api.updateTenant(mfaChange.tenant, { requireMfa: mfaChange.requireMfa })).then(async (ok) => {
                    setMfaChange(null);
                    if (ok) await reload();
                  })
                }
              >
                {mfaChange.requireMfa ? 'Require' : 'Stop requiring'}
              </button>
            </>
          }
        >
          {mfaChange.requireMfa ? (
            <p>From their next action, people of {mfaChange.tenant} confirm destructive actions (power off, taking over a console, mounting media) with their second factor; adding a first factor then needs an enrollment code from an admin (Users → Enrollment code).</p>
          ) : (
            <p>People of {mfaChange.tenant} then confirm destructive actions with their password alone.</p>
          )}
        </Dialog>
      ) : null}
    </>
  );
}

/** One host, *.domain, IP or CIDR per line; each line is checked as the relay will check it before anything is sent. */
function MediaUrlPolicyEditor({ api, tenant }: { api: AdminApi; tenant: string }) {
  const load = useCallback(() => api.mediaUrlPolicy(tenant), [api, tenant]);
  const { data, error, reload } = useLoaded(load);
  const action = useAction();
  const [text, setText] = useState('');
  useEffect(() => setText(data?.policy.allow.join('\n') ?? ''), [data]);
  const entries = text.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const problems = entries.map(mediaUrlPolicyEntryError).filter((problem): problem is string => problem !== undefined);
  return (
    <div className="policy" data-testid="media-url-policy">
      <h4>Virtual media by URL</h4>
      <p className="hint">Hosts the tenant&apos;s agents may fetch ISO images from. Empty: mounting by URL is off.</p>
      <textarea rows={4} value={text} onChange={(event) => setText(event.target.value)} placeholder={'mirror.example.com\n*.images.example.net\n10.20.0.0/16'} aria-label="Allowed hosts" />
      {problems.map((problem) => <p key={problem} className="error">{problem}</p>)}
      <p>
        <button disabled={action.busy || problems.length > 0 || data === null} onClick={() => void action.run(() => api.setMediaUrlPolicy({ allow: entries, ...(data?.policy.maxBytes === undefined ? {} : { maxBytes: data.policy.maxBytes }) }, tenant)).then(async (ok) => (ok ? reload() : undefined))}>Save</button>{' '}
        {data?.updatedAt ? <span className="hint">changed {new Date(data.updatedAt).toLocaleString()}{data.updatedBy ? ` by ${data.updatedBy}` : ''}</span> : null}
      </p>
      <ErrorLine error={action.error ?? error} />
    </div>
  );
}

/** Per console kind: the deployment's default, or on/off for this tenant; and the retention. The relay checks it again. */
function RecordingPolicyEditor({ api, tenant }: { api: AdminApi; tenant: string }) {
  const load = useCallback(() => api.recordingPolicy(tenant), [api, tenant]);
  const { data, error, reload } = useLoaded(load);
  const action = useAction();
  const [draft, setDraft] = useState<RecordingPolicyDraft>(recordingDraftOf({}));
  useEffect(() => setDraft(recordingDraftOf(data?.policy ?? {})), [data]);
  const checked = recordingRulesOf(draft);
  const problem = 'error' in checked ? checked.error : undefined;
  return (
    <div className="policy" data-testid="recording-policy">
      <h4>Console recording</h4>
      <p className="hint">Recordings hold what was typed, passwords included. A change applies to consoles opened from now on.</p>
      {RECORDED_KINDS.map((kind) => (
        <label key={kind} className="policy-row">
          {KIND_LABELS[kind]}{' '}
          <select value={draft.kinds[kind]} onChange={(event) => setDraft({ ...draft, kinds: { ...draft.kinds, [kind]: event.target.value as RecordingChoice } })} data-testid={`recording-${kind}`}>
            <option value="default">Deployment default</option>
            <option value="on">Record</option>
            <option value="off">Do not record</option>
          </select>{' '}
          {data ? <span className="hint" data-testid={`recording-${kind}-effective`}>now: {data.effective[kind] ? 'recorded' : 'not recorded'}</span> : null}
        </label>
      ))}
      <label className="policy-row">
        Keep recordings{' '}
        <select value={draft.retention} onChange={(event) => setDraft({ ...draft, retention: event.target.value as RetentionChoice })} data-testid="recording-retention">
          <option value="default">Deployment default</option>
          <option value="forever">Until deleted</option>
          <option value="days">For a number of days</option>
        </select>{' '}
        {draft.retention === 'days' ? <input type="number" min={1} max={36_500} step={1} value={draft.days} onChange={(event) => setDraft({ ...draft, days: event.target.value })} aria-label="Retention in days" data-testid="recording-retention-days" /> : null}{' '}
        {data ? <span className="hint" data-testid="recording-retention-effective">now: {retentionText(data.effective.retentionDays)}</span> : null}
      </label>
      {problem ? <p className="error">{problem}</p> : null}
      <p>
        <button disabled={action.busy || problem !== undefined || data === null} onClick={() => ('rules' in checked ? void action.run(() => api.setRecordingPolicy(tenant, checked.rules)).then(async (ok) => (ok ? reload() : undefined)) : undefined)} data-testid="recording-policy-save">Save</button>{' '}
        {data?.updatedAt ? <span className="hint">changed {new Date(data.updatedAt).toLocaleString()}{data.updatedBy ? ` by ${data.updatedBy}` : ''}</span> : null}
      </p>
      <ErrorLine error={action.error ?? error} />
    </div>
  );
}

function AutomationPolicySummary({ api, tenant }: { api: AdminApi; tenant: string }) {
  const load = useCallback(() => api.automationPolicy(tenant), [api, tenant]);
  const { data, error } = useLoaded(load);
  return (
    <div className="policy" data-testid="automation-policy">
      <h4>Automation (MCP)</h4>
      <ErrorLine error={error} />
      {data === null ? null : (
        <p>
          Tools: {data.policy.tools === undefined ? 'the read-only defaults' : data.policy.tools.length === 0 ? 'none' : data.policy.tools.join(', ')}.{' '}
          <span className="hint">Edit with <code>lightsout automation policy set FILE.json</code> (docs/automation.md).</span>
        </p>
      )}
    </div>
  );
}
