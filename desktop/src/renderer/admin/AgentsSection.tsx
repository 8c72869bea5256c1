import type { AgentView, JoinTokenCreated, TenantView } from '@lightsout/shared';
import { useCallback, useState } from 'react';
import { Dialog } from '../components/Dialog.js';
import type { AdminApi } from './admin-api.js';
import { ago } from './admin-model.js';
import { EmptyRow, ErrorLine, OneTimeSecret, useAction, useLoaded } from './common.js';

/** The deployment's agents (provider admins): state, version, servers, last seen, tenants; revoke, rebind tenants. */
export function AgentsSection({ api, tenants }: { api: AdminApi; tenants: readonly TenantView[] }) {
  const load = useCallback(() => api.agents(), [api]);
  const { data, error, reload } = useLoaded(load);
  const action = useAction();
  const [revoking, setRevoking] = useState<AgentView | null>(null);
  const [rebinding, setRebinding] = useState<AgentView | null>(null);
  return (
    <div className="admin-section" data-testid="admin-agents">
      <p className="toolbar"><button onClick={() => void reload()}>Refresh</button></p>
      <ErrorLine error={action.error ?? error} />
      <table className="data admin-table" data-testid="agents-table">
        <thead><tr><th>Agent</th><th>State</th><th>Version</th><th>Where</th><th className="number">Servers</th><th>Last seen</th><th>Tenants</th><th /></tr></thead>
        <tbody>
          {data === null ? <EmptyRow columns={8}>Loading…</EmptyRow> : null}
          {data?.length === 0 ? <EmptyRow columns={8}>No agents yet. Create a join token and start an agent with it.</EmptyRow> : null}
          {data?.map((agent) => (
            <tr key={agent.id} data-testid="agent-row" data-agent-id={agent.id}>
              <td title={agent.id}>{agent.name}</td>
              <td className={agent.revoked ? 'status-error' : agent.status === 'online' ? 'status-ok' : 'status-warning'}>{agent.revoked ? 'revoked' : agent.status}</td>
              <td>{agent.version ?? '—'}</td>
              <td>{agent.region}/{agent.datacenter}</td>
              <td className="number">{agent.servers}</td>
              <td title={agent.lastSeenAt ?? undefined}>{agent.status === 'online' && !agent.revoked ? 'now' : ago(agent.lastSeenAt)}</td>
              <td>{agent.tenants.join(', ') || '—'}</td>
              <td className="actions">
                <button disabled={agent.revoked} onClick={() => setRebinding(agent)}>Tenants…</button>{' '}
                <button className="danger" disabled={agent.revoked} onClick={() => setRevoking(agent)}>Revoke…</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {revoking ? (
        <Dialog
          title={`Revoke agent ${revoking.name}?`}
          onCancel={() => setRevoking(null)}
          actions={
            <>
              <button onClick={() => setRevoking(null)}>Cancel</button>
              <button className="danger" onClick={() => void action.run(() => api.revokeAgent(revoking.id)).then(async () => { setRevoking(null); await reload(); })}>Revoke</button>
            </>
          }
        >
          <p>The agent is disconnected now and can never connect again with its key; its {revoking.servers} server{revoking.servers === 1 ? '' : 's'} go offline. Enrolling it again needs a new join token.</p>
        </Dialog>
      ) : null}
      {rebinding ? <TenantsDialog agent={rebinding} tenants={tenants} onCancel={() => setRebinding(null)} onSave={(chosen) => void action.run(() => api.setAgentTenants(rebinding.id, chosen)).then(async () => { setRebinding(null); await reload(); })} /> : null}
    </div>
  );
}

function TenantsDialog({ agent, tenants, onCancel, onSave }: { agent: AgentView; tenants: readonly TenantView[]; onCancel(): void; onSave(tenants: string[]): void }) {
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set(agent.tenants));
  return (
    <Dialog
      title={`Tenants of agent ${agent.name}`}
      onCancel={onCancel}
      actions={
        <>
          <button onClick={onCancel}>Cancel</button>
          <button className="primary" disabled={chosen.size === 0} onClick={() => onSave([...chosen])}>Save</button>
        </>
      }
    >
      <p>The agent may register servers into these tenants. Servers in a tenant taken off go at once (unless a provider admin assigned them).</p>
      <TenantChecklist tenants={tenants} chosen={chosen} onChange={setChosen} />
    </Dialog>
  );
}

function TenantChecklist({ tenants, chosen, onChange }: { tenants: readonly TenantView[]; chosen: ReadonlySet<string>; onChange(next: ReadonlySet<string>): void }) {
  return (
    <div className="checklist">
      {tenants.map((tenant) => (
        <label key={tenant.id}>
          <input
            type="checkbox"
            data-testid="tenant-choice"
            value={tenant.id}
            checked={chosen.has(tenant.id)}
            onChange={(event) => {
              const next = new Set(chosen);
              if (event.target.checked) next.add(tenant.id);
              else next.delete(tenant.id);
              onChange(next);
            }}
          />{' '}
          {tenant.id} <span className="hint">{tenant.name}</span>
        </label>
      ))}
    </div>
  );
}

/**
 * Join tokens (provider admins): create one for a datacenter and its
 * tenants — its value is shown once, to copy into the agent's config — list
 * them with what became of each, revoke one not used yet.
 */
export function JoinTokensSection({ api, tenants }: { api: AdminApi; tenants: readonly TenantView[] }) {
  const load = useCallback(async () => {
    const [tokens, agents] = await Promise.all([api.joinTokens(), api.agents()]);
    return { tokens, agentNames: new Map(agents.map((agent) => [agent.id, agent.name])) };
  }, [api]);
  const { data, error, reload } = useLoaded(load);
  const action = useAction();
  const [draft, setDraft] = useState({ region: '', datacenter: '', ttlMinutes: 10 });
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set());
  const [created, setCreated] = useState<JoinTokenCreated | null>(null);
  const create = async () => {
    let made: JoinTokenCreated | null = null;
    const ok = await action.run(async () => {
      made = await api.createJoinToken({ region: draft.region.trim(), datacenter: draft.datacenter.trim(), tenants: [...chosen], ttlSeconds: Math.round(draft.ttlMinutes * 60) });
    });
    if (ok) {
      setCreated(made);
      await reload();
    }
  };
  return (
    <div className="admin-section" data-testid="admin-join-tokens">
      <form
        className="admin-form"
        onSubmit={(event) => {
          event.preventDefault();
          void create();
        }}
      >
        <label>Region <input type="text" value={draft.region} onChange={(event) => setDraft({ ...draft, region: event.target.value })} placeholder="eu" required data-testid="join-token-region" /></label>
        <label>Datacenter <input type="text" value={draft.datacenter} onChange={(event) => setDraft({ ...draft, datacenter: event.target.value })} placeholder="fra1" required data-testid="join-token-datacenter" /></label>
        <label>Valid for (minutes) <input type="number" min={1} max={1440} value={draft.ttlMinutes} onChange={(event) => setDraft({ ...draft, ttlMinutes: Number(event.target.value) })} style={{ width: '10ch' }} /></label>
        <fieldset>
          <legend>Tenants its agent may register servers into</legend>
          <TenantChecklist tenants={tenants} chosen={chosen} onChange={setChosen} />
        </fieldset>
        <button className="primary" type="submit" disabled={action.busy || chosen.size === 0} data-testid="join-token-create">Create join token</button>
      </form>
      {created ? (
        <OneTimeSecret
          label={`Join token for ${created.region}/${created.datacenter}, valid until ${new Date(created.expiresAt).toLocaleTimeString()}`}
          value={created.token}
          onDone={() => setCreated(null)}
        />
      ) : null}
      <ErrorLine error={action.error ?? error} />
      <table className="data admin-table" data-testid="join-tokens-table">
        <thead><tr><th>Created</th><th>By</th><th>Where</th><th>Tenants</th><th>State</th><th>Expires</th><th /></tr></thead>
        <tbody>
          {data === null ? <EmptyRow columns={7}>Loading…</EmptyRow> : null}
          {data?.tokens.length === 0 ? <EmptyRow columns={7}>No join tokens.</EmptyRow> : null}
          {data?.tokens.map((token) => (
            <tr key={token.id} data-testid="join-token-row" data-id={token.id} data-state={token.state}>
              <td title={token.createdAt}>{new Date(token.createdAt).toLocaleString()}</td>
              <td>{token.createdByName ?? token.createdBy}</td>
              <td>{token.region}/{token.datacenter}</td>
              <td>{token.tenants.join(', ')}</td>
              <td className={token.state === 'pending' ? 'status-warning' : ''}>{token.state === 'used' ? `used by ${(token.usedByAgent === null ? undefined : data.agentNames.get(token.usedByAgent)) ?? token.usedByAgent ?? 'an agent'}` : token.state}</td>
              <td title={token.expiresAt}>{new Date(token.expiresAt).toLocaleString()}</td>
              <td>{token.state === 'used' ? null : <button className="danger" onClick={() => void action.run(() => api.revokeJoinToken(token.id)).then(() => reload())} data-testid="join-token-revoke">{token.state === 'pending' ? 'Revoke' : 'Remove'}</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
