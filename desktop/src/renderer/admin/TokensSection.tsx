import type { ApiTokenCreated, Role } from '@lightsout/shared';
import { useCallback, useState } from 'react';
import type { AdminApi } from './admin-api.js';
import { ago, assignableRoles } from './admin-model.js';
import { EmptyRow, ErrorLine, OneTimeSecret, useAction, useLoaded } from './common.js';

/** API tokens (service accounts) of the tenant in view: create (value shown once), list with last use, revoke. */
export function TokensSection({ api, tenant, role }: { api: AdminApi; tenant: string | undefined; role: Role }) {
  const load = useCallback(() => api.apiTokens(tenant), [api, tenant]);
  const { data, error, reload } = useLoaded(load);
  const action = useAction();
  const [draft, setDraft] = useState<{ name: string; role: Role; days: number }>({ name: '', role: 'operator', days: 30 });
  const [created, setCreated] = useState<ApiTokenCreated | null>(null);
  const create = async () => {
    let made: ApiTokenCreated | null = null;
    const ok = await action.run(async () => {
      made = await api.createApiToken({ name: draft.name.trim(), role: draft.role, ttlSeconds: Math.round(draft.days * 86_400), ...(tenant === undefined ? {} : { tenant }) });
    });
    if (ok) {
      setCreated(made);
      setDraft({ ...draft, name: '' });
      await reload();
    }
  };
  const now = Date.now();
  return (
    <div className="admin-section" data-testid="admin-tokens">
      <form
        className="admin-form"
        onSubmit={(event) => {
          event.preventDefault();
          void create();
        }}
      >
        <label>Name <input type="text" value={draft.name} onChange={(event) => setDraft({ ...draft, name: event.target.value })} placeholder="nightly-inventory" required data-testid="api-token-name" /></label>
        <label>
          Role{' '}
          <select value={draft.role} onChange={(event) => setDraft({ ...draft, role: event.target.value as Role })} data-testid="api-token-role">
            {assignableRoles(role).map((candidate) => <option key={candidate} value={candidate}>{candidate}</option>)}
          </select>
        </label>
        <label>Valid for (days) <input type="number" min={1} max={365} value={draft.days} onChange={(event) => setDraft({ ...draft, days: Number(event.target.value) })} style={{ width: '10ch' }} /></label>
        <button className="primary" type="submit" disabled={action.busy || draft.name.trim() === ''} data-testid="api-token-create">Create API token</button>
      </form>
      {created ? <OneTimeSecret label={`API token ${created.name}`} value={created.token} onDone={() => setCreated(null)} /> : null}
      <ErrorLine error={action.error ?? error} />
      <table className="data admin-table" data-testid="api-tokens-table">
        <thead><tr><th>Name</th><th>Role</th><th>Created</th><th>Expires</th><th>Last used</th><th>State</th><th /></tr></thead>
        <tbody>
          {data === null ? <EmptyRow columns={7}>Loading…</EmptyRow> : null}
          {data?.length === 0 ? <EmptyRow columns={7}>No API tokens in this tenant.</EmptyRow> : null}
          {data?.map((token) => {
            const state = token.revokedAt !== null ? 'revoked' : Date.parse(token.expiresAt) <= now ? 'expired' : 'active';
            return (
              <tr key={token.id} data-testid="api-token-row" data-name={token.name} data-state={state} className={state === 'active' ? '' : 'muted'}>
                <td title={token.id}>{token.name}</td>
                <td>{token.role}</td>
                <td title={token.createdAt}>{new Date(token.createdAt).toLocaleDateString()}</td>
                <td title={token.expiresAt}>{new Date(token.expiresAt).toLocaleDateString()}</td>
                <td title={token.lastUsedAt ?? undefined}>{ago(token.lastUsedAt)}</td>
                <td>{state}</td>
                <td>{state === 'active' ? <button className="danger" onClick={() => void action.run(() => api.revokeApiToken(token.id)).then(() => reload())} data-testid="api-token-revoke">Revoke</button> : null}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
