import type { GrantSelector, GrantView, Role, ServerView, UserView } from '@lightsout/shared';
import { useCallback, useMemo, useState } from 'react';
import { Dialog } from '../components/Dialog.js';
import type { AdminApi } from './admin-api.js';
import { assignableRoles, describeSelector } from './admin-model.js';
import { EmptyRow, ErrorLine, useAction, useLoaded } from './common.js';

/**
 * A tenant's users and what each may reach: create a user, change their
 * role, disable them, issue an MFA enrollment code, and grant or withdraw
 * servers (a list of servers, a rack, or a label).
 */
export function UsersSection({ api, tenant, role, servers }: { api: AdminApi; tenant: string | undefined; role: Role; servers: readonly ServerView[] }) {
  const load = useCallback(async () => {
    const [users, grants] = await Promise.all([api.users(tenant), api.grants(tenant)]);
    return { users, grants };
  }, [api, tenant]);
  const { data, error, reload } = useLoaded(load);
  const action = useAction();
  // The grant dialog's own: a refusal there is shown there, not under the create form (and the reverse).
  const grantAction = useAction();
  const [draft, setDraft] = useState<{ username: string; password: string; role: Role }>({ username: '', password: '', role: 'operator' });
  const [granting, setGranting] = useState<UserView | null>(null);
  const [mfaCode, setMfaCode] = useState<{ username: string; code: string; expiresAt: string } | null>(null);
  const serverName = useMemo(() => {
    const names = new Map(servers.map((server) => [server.id, server.name]));
    return (id: string) => names.get(id);
  }, [servers]);
  const grantsOf = (userId: string): GrantView[] => data?.grants.filter((grant) => grant.userId === userId) ?? [];

  const create = async () => {
    if (await action.run(() => api.createUser({ username: draft.username.trim(), password: draft.password, role: draft.role, ...(tenant === undefined ? {} : { tenant }) }))) {
      setDraft({ username: '', password: '', role: draft.role });
      await reload();
    }
  };
  const change = async (task: () => Promise<unknown>) => {
    if (await action.run(task)) await reload();
  };

  return (
    <div className="admin-section" data-testid="admin-users">
      <form
        className="admin-form"
        onSubmit={(event) => {
          event.preventDefault();
          void create();
        }}
      >
        <label>Username <input type="text" value={draft.username} onChange={(event) => setDraft({ ...draft, username: event.target.value })} data-testid="user-create-username" autoComplete="off" required /></label>
        <label>Password <input type="password" value={draft.password} onChange={(event) => setDraft({ ...draft, password: event.target.value })} data-testid="user-create-password" autoComplete="new-password" minLength={12} required /></label>
        <label>
          Role{' '}
          <select value={draft.role} onChange={(event) => setDraft({ ...draft, role: event.target.value as Role })} data-testid="user-create-role">
            {assignableRoles(role).map((candidate) => <option key={candidate} value={candidate}>{candidate}</option>)}
          </select>
        </label>
        <button className="primary" type="submit" disabled={action.busy || draft.username.trim() === '' || draft.password === ''} data-testid="user-create-submit">Create user</button>
        <span className="hint">At least 12 characters, not the username; hand it over out of band.</span>
      </form>
      <ErrorLine error={action.error ?? error} />
      {mfaCode ? (
        <p className="notice" data-testid="mfa-code">
          Enrollment code for <strong>{mfaCode.username}</strong>: <code>{mfaCode.code}</code> (valid until {new Date(mfaCode.expiresAt).toLocaleTimeString()}). Hand it over in person or by phone. <button onClick={() => setMfaCode(null)}>Done</button>
        </p>
      ) : null}
      <table className="data admin-table" data-testid="users-table">
        <thead>
          <tr><th>User</th><th>Role</th><th>Second factor</th><th>Status</th><th>Servers granted</th><th>Created</th><th /></tr>
        </thead>
        <tbody>
          {data === null ? <EmptyRow columns={7}>{error === null ? 'Loading…' : 'Could not load the users.'}</EmptyRow> : null}
          {data?.users.length === 0 ? <EmptyRow columns={7}>No users in this tenant yet.</EmptyRow> : null}
          {data?.users.map((user) => (
            <tr key={user.id} data-testid="user-row" data-username={user.username} className={user.disabled ? 'muted' : ''}>
              <td>{user.username}</td>
              <td>
                <select aria-label={`Role of ${user.username}`} value={user.role} disabled={!assignableRoles(role).includes(user.role)} onChange={(event) => void change(() => api.updateUser(user.id, { role: event.target.value as Role }))}>
                  {(assignableRoles(role).includes(user.role) ? assignableRoles(role) : [user.role]).map((candidate) => <option key={candidate} value={candidate}>{candidate}</option>)}
                </select>
              </td>
              <td>
                {user.mfa ? 'enrolled' : 'none'}{' '}
                <button className="link" onClick={() => void action.run(async () => setMfaCode({ username: user.username, ...(await api.mfaEnrollment(user.id)) }))} title="A one-time code the user enrolls an authenticator app with">Enrollment code</button>
              </td>
              <td>
                {user.disabled ? 'disabled' : 'active'}{' '}
                <button className="link" onClick={() => void change(() => api.updateUser(user.id, { disabled: !user.disabled }))}>{user.disabled ? 'Enable' : 'Disable'}</button>
              </td>
              <td className="grants" data-testid="user-grants">
                {/* relay/src/access/scope.ts: grants only narrow; a user with none reaches every server of the tenant. */}
                {grantsOf(user.id).length === 0 ? <span className="hint">every server of the tenant (no grants)</span> : null}
                {grantsOf(user.id).map((grant) => (
                  <span key={grant.id} className="chip" data-testid="grant-chip">
                    {describeSelector(grant.selector, serverName)}
                    <button aria-label={`Withdraw grant ${describeSelector(grant.selector, serverName)} from ${user.username}`} onClick={() => void change(() => api.deleteGrant(grant.id))}>×</button>
                  </span>
                ))}
              </td>
              <td title={user.createdAt}>{new Date(user.createdAt).toLocaleDateString()}</td>
              <td>
                <button
                  onClick={() => {
                    grantAction.clear();
                    setGranting(user);
                  }}
                  data-testid="grant-open"
                >
                  Grant servers…
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {granting ? (
        <GrantDialog
          user={granting}
          servers={servers}
          onCancel={() => setGranting(null)}
          onGrant={async (selector) => {
            if (await grantAction.run(() => api.createGrant(granting.id, selector))) {
              setGranting(null);
              await reload();
            }
          }}
          error={grantAction.error}
        />
      ) : null}
    </div>
  );
}

/** Which servers a grant opens: picked from the tenant's servers, or a rack, or a label. */
function GrantDialog({ user, servers, onCancel, onGrant, error }: { user: UserView; servers: readonly ServerView[]; onCancel(): void; onGrant(selector: GrantSelector): Promise<void>; error: string | null }) {
  const [kind, setKind] = useState<GrantSelector['kind']>('servers');
  const [picked, setPicked] = useState<ReadonlySet<string>>(new Set());
  const [filter, setFilter] = useState('');
  const [rack, setRack] = useState('');
  const [label, setLabel] = useState({ key: '', value: '' });
  const shown = servers.filter((server) => server.tenant === user.tenant && `${server.name} ${server.id}`.toLowerCase().includes(filter.trim().toLowerCase())).slice(0, 200);
  const selector: GrantSelector | null =
    kind === 'servers' ? (picked.size > 0 ? { kind, ids: [...picked] } : null) : kind === 'rack' ? (rack.trim() ? { kind, rack: rack.trim() } : null) : label.key.trim() ? { kind, key: label.key.trim(), value: label.value } : null;
  return (
    <Dialog
      title={`Grant servers to ${user.username}`}
      testId="grant-dialog"
      onCancel={onCancel}
      actions={
        <>
          <button onClick={onCancel}>Cancel</button>
          <button className="primary" disabled={selector === null} onClick={() => selector && void onGrant(selector)} data-testid="grant-submit">Grant</button>
        </>
      }
    >
      <p style={{ display: 'flex', gap: 16 }}>
        <label><input type="radio" name="grant-kind" checked={kind === 'servers'} onChange={() => setKind('servers')} /> Servers</label>
        <label><input type="radio" name="grant-kind" checked={kind === 'rack'} onChange={() => setKind('rack')} /> A rack</label>
        <label><input type="radio" name="grant-kind" checked={kind === 'label'} onChange={() => setKind('label')} /> A label</label>
      </p>
      {kind === 'servers' ? (
        <>
          <input type="search" placeholder="Filter servers" aria-label="Filter servers to grant" value={filter} onChange={(event) => setFilter(event.target.value)} data-testid="grant-filter" />
          <div className="grant-servers">
            {shown.length === 0 ? <p className="hint">No servers of tenant {user.tenant} match.</p> : null}
            {shown.map((server) => (
              <label key={server.id} data-testid="grant-server" data-server-id={server.id}>
                <input
                  type="checkbox"
                  checked={picked.has(server.id)}
                  onChange={(event) => {
                    const next = new Set(picked);
                    if (event.target.checked) next.add(server.id);
                    else next.delete(server.id);
                    setPicked(next);
                  }}
                />{' '}
                {server.name} <span className="hint">{server.id} · {server.datacenter}/{server.rack}</span>
              </label>
            ))}
          </div>
          <p className="hint">{picked.size} picked. New servers are not included; a rack or label grant covers them as they come.</p>
        </>
      ) : kind === 'rack' ? (
        <label>Rack <input type="text" value={rack} onChange={(event) => setRack(event.target.value)} /></label>
      ) : (
        <p style={{ display: 'flex', gap: 8 }}>
          <label>Label <input type="text" value={label.key} onChange={(event) => setLabel({ ...label, key: event.target.value })} placeholder="role" /></label>
          <label>= <input type="text" value={label.value} onChange={(event) => setLabel({ ...label, value: event.target.value })} placeholder="db" /></label>
        </p>
      )}
      <ErrorLine error={error} />
    </Dialog>
  );
}
