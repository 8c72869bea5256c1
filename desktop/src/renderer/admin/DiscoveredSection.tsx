import type { DiscoveredBmcView, TenantView } from '@lightsout/shared';
import { useCallback, useEffect, useState } from 'react';
import { Dialog } from '../components/Dialog.js';
import type { AdminApi } from './admin-api.js';
import { ago, errorText } from './admin-model.js';
import { EmptyRow, ErrorLine, useLoaded } from './common.js';
import { type AdoptDraft, adoptErrorText, draftProblem, protocolsText, serverIdFromName, vendorModel } from './discovered-model.js';

/** After a scan is asked for, the list is read again this often until this long has passed (a scan's findings arrive when it ends). */
const SCAN_RELOAD_MS = 2000;
const SCAN_WATCH_MS = 60_000;

/**
 * What the agents' discovery scans found on their out-of-band networks
 * (provider admins: found BMCs belong to no tenant yet). Adopting one names
 * its server, tenant and the agent's credential set (a reference: the
 * password stays on the agent); it then joins the server tree like any
 * other. A scan can be asked of an agent now.
 */
export function DiscoveredSection({ api, tenants }: { api: AdminApi; tenants: readonly TenantView[] }) {
  const [showAdopted, setShowAdopted] = useState(false);
  const load = useCallback(async () => {
    const [discovered, agents] = await Promise.all([api.discovered(showAdopted ? undefined : false), api.agents()]);
    return { discovered, agents: agents.filter((agent) => !agent.revoked) };
  }, [api, showAdopted]);
  const { data, error, reload } = useLoaded(load);
  const [scanAgent, setScanAgent] = useState('');
  const [scanNote, setScanNote] = useState<string | null>(null);
  const [scanError, setScanError] = useState<string | null>(null);
  const [watchUntil, setWatchUntil] = useState(0);
  const [adopting, setAdopting] = useState<DiscoveredBmcView | null>(null);
  const [adopted, setAdopted] = useState<string | null>(null);

  // While a scan runs, its findings show up without anyone pressing Refresh.
  useEffect(() => {
    if (watchUntil <= Date.now()) return;
    const timer = setInterval(() => {
      if (Date.now() > watchUntil) return clearInterval(timer);
      void reload();
    }, SCAN_RELOAD_MS);
    return () => clearInterval(timer);
  }, [watchUntil, reload]);

  const agentToScan = scanAgent || data?.agents[0]?.id || '';
  const scan = async () => {
    const agent = data?.agents.find((candidate) => candidate.id === agentToScan);
    if (agent === undefined) return;
    setScanError(null);
    try {
      await api.scanDiscovery(agent.id);
      setScanNote(`Scanning on ${agent.name}: what it finds appears here when the scan ends.`);
      setWatchUntil(Date.now() + SCAN_WATCH_MS);
    } catch (caught) {
      setScanNote(null);
      setScanError(scanErrorText(caught, agent.name));
    }
  };

  return (
    <div className="admin-section" data-testid="admin-discovered">
      <div className="admin-form">
        <label>
          Agent
          <select value={agentToScan} onChange={(event) => setScanAgent(event.target.value)} data-testid="discovery-scan-agent">
            {(data?.agents ?? []).map((agent) => <option key={agent.id} value={agent.id}>{agent.name} ({agent.status})</option>)}
          </select>
        </label>
        <button className="primary" disabled={agentToScan === ''} onClick={() => void scan()} data-testid="discovery-scan">Scan now</button>
        <button onClick={() => void reload()} data-testid="discovery-refresh">Refresh</button>
        <span className="spacer" />
        <label><input type="checkbox" checked={showAdopted} onChange={(event) => setShowAdopted(event.target.checked)} data-testid="discovery-show-adopted" /> Show adopted</label>
      </div>
      {scanNote !== null ? <p className="hint" data-testid="discovery-scan-note">{scanNote}</p> : null}
      <ErrorLine error={scanError ?? error} />
      {adopted !== null ? <p className="notice" data-testid="discovery-adopted">{adopted}</p> : null}
      <table className="data admin-table" data-testid="discovered-table">
        <thead><tr><th>Address</th><th>Protocols</th><th>Vendor / model</th><th>Agent</th><th>First seen</th><th>Last seen</th><th /></tr></thead>
        <tbody>
          {data === null ? <EmptyRow columns={7}>Loading…</EmptyRow> : null}
          {data?.discovered.length === 0 ? <EmptyRow columns={7}>{showAdopted ? 'Nothing discovered yet. Agents scan the ranges their config names under discovery.' : 'No BMC waiting to be adopted. Scan now, or show the adopted ones.'}</EmptyRow> : null}
          {data?.discovered.map((bmc) => (
            <tr key={bmc.id} data-testid="discovered-row" data-address={bmc.address} className={bmc.adoptedServerId !== undefined ? 'muted' : ''}>
              <td title={bmc.uuid ?? bmc.guid}>{bmc.address}{bmc.previousAddress !== undefined ? <span className="hint"> (was {bmc.previousAddress})</span> : null}</td>
              <td>{protocolsText(bmc)}</td>
              <td>{vendorModel(bmc)}</td>
              <td>{bmc.agentName}</td>
              <td title={bmc.firstSeenAt}>{ago(bmc.firstSeenAt)}</td>
              <td title={bmc.lastSeenAt}>{ago(bmc.lastSeenAt)}</td>
              <td className="actions">{bmc.adoptedServerId !== undefined ? <span className="hint">adopted as {bmc.adoptedServerId}</span> : <button onClick={() => setAdopting(bmc)} data-testid="discovered-adopt">Adopt…</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {adopting ? (
        <AdoptDialog
          bmc={adopting}
          tenants={tenants}
          api={api}
          onCancel={() => setAdopting(null)}
          onAdopted={(serverId) => {
            setAdopting(null);
            setAdopted(`${adopting.address} is now server ${serverId}: it appears in the server tree once its agent has registered it.`);
            void reload();
          }}
        />
      ) : null}
    </div>
  );
}

function scanErrorText(error: unknown, agentName: string): string {
  const code = error !== null && typeof error === 'object' && 'code' in error ? String((error as { code: unknown }).code) : undefined;
  if (code === 'DISCOVERY_NOT_CONFIGURED') return `Agent ${agentName} scans nothing: its config names no discovery ranges.`;
  if (code === 'AGENT_OFFLINE' || code === 'AGENT_TIMEOUT') return `Agent ${agentName} is not connected, so it cannot scan now.`;
  return errorText(error);
}

function AdoptDialog({ bmc, tenants, api, onCancel, onAdopted }: { bmc: DiscoveredBmcView; tenants: readonly TenantView[]; api: AdminApi; onCancel(): void; onAdopted(serverId: string): void }) {
  const [draft, setDraft] = useState<AdoptDraft>({ name: '', serverId: '', tenant: tenants[0]?.id ?? '', rack: '', credentials: '' });
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const problem = draftProblem(draft);
  const adopt = async () => {
    if (problem !== undefined) return setFailure(problem);
    setBusy(true);
    setFailure(null);
    const serverId = draft.serverId.trim();
    const rack = draft.rack.trim();
    try {
      const result = await api.adoptDiscovered({ id: bmc.id, name: draft.name.trim(), tenant: draft.tenant, credentials: draft.credentials.trim(), ...(serverId === '' ? {} : { serverId }), ...(rack === '' ? {} : { rack }) });
      onAdopted(result.serverId);
    } catch (caught) {
      setFailure(adoptErrorText(caught, { agentName: bmc.agentName, credentials: draft.credentials.trim(), tenant: draft.tenant }));
    } finally {
      setBusy(false);
    }
  };
  const derived = serverIdFromName(draft.name);
  return (
    <Dialog
      title={`Adopt the BMC at ${bmc.address}`}
      testId="adopt-dialog"
      onCancel={onCancel}
      actions={
        <>
          <button onClick={onCancel}>Cancel</button>
          <button className="primary" disabled={busy} onClick={() => void adopt()} data-testid="adopt-submit">{busy ? 'Adopting…' : 'Adopt'}</button>
        </>
      }
    >
      <form
        className="admin-form"
        onSubmit={(event) => {
          event.preventDefault();
          void adopt();
        }}
      >
        <label>Name <input type="text" value={draft.name} onChange={(event) => setDraft({ ...draft, name: event.target.value })} placeholder="web-17.fra1" data-testid="adopt-name" autoFocus /></label>
        <label>Server id <input type="text" value={draft.serverId} onChange={(event) => setDraft({ ...draft, serverId: event.target.value })} placeholder={derived ?? 'web-17'} data-testid="adopt-server-id" /></label>
        <label>
          Tenant
          <select value={draft.tenant} onChange={(event) => setDraft({ ...draft, tenant: event.target.value })} data-testid="adopt-tenant">
            {tenants.map((tenant) => <option key={tenant.id} value={tenant.id}>{tenant.id} — {tenant.name}</option>)}
          </select>
        </label>
        <label>Rack <input type="text" value={draft.rack} onChange={(event) => setDraft({ ...draft, rack: event.target.value })} placeholder="discovered" data-testid="adopt-rack" /></label>
        <label>Credential set <input type="text" value={draft.credentials} onChange={(event) => setDraft({ ...draft, credentials: event.target.value })} placeholder="lab" data-testid="adopt-credentials" /></label>
        <button type="submit" hidden />
      </form>
      <p className="hint">
        Found by agent {bmc.agentName} ({protocolsText(bmc)}{bmc.vendor !== undefined || bmc.model !== undefined ? `, ${vendorModel(bmc)}` : ''}). The credential set is the id of an entry under credentials in that agent’s config: the password stays on the agent.
        {bmc.redfish !== undefined ? ' The certificate discovery saw is pinned: the BMC must keep presenting it.' : ''}
      </p>
      {failure !== null ? <p className="error" role="alert" data-testid="adopt-error">{failure}</p> : null}
    </Dialog>
  );
}
