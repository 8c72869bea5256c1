import type { Role, ServerView, TenantView } from '@lightsout/shared';
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { RelayClient } from '../api/relay-client.js';
import type { Platform } from '../platform/index.js';
import { AdminApi } from './admin-api.js';
import { type AdminSection, adminSections, errorText, SECTION_LABELS } from './admin-model.js';
import { AgentsSection, JoinTokensSection } from './AgentsSection.js';
import { AuditSection } from './AuditSection.js';
import { DiscoveredSection } from './DiscoveredSection.js';
import { TenantsSection } from './TenantsSection.js';
import { TokensSection } from './TokensSection.js';
import { UsersSection } from './UsersSection.js';

/**
 * Administration, in place of the tree and the consoles (which stay open
 * behind it): users and grants, tenants and policies, agents, discovered
 * BMCs, join tokens,
 * API tokens, the audit log. A provider admin picks the tenant the
 * tenant-scoped sections act in; a tenant admin works in their own.
 */
export function AdminView({ platform, client, role, ownTenant, servers, onClose }: { platform: Platform; client: RelayClient; role: Role; ownTenant: string; servers: readonly ServerView[]; onClose(): void }) {
  const api = useMemo(() => new AdminApi(client), [client]);
  const sections = adminSections(role);
  const [section, setSection] = useState<AdminSection>(sections[0] ?? 'users');
  const provider = role === 'provider-admin';
  const [tenants, setTenants] = useState<TenantView[]>([]);
  const [tenantsError, setTenantsError] = useState<string | null>(null);
  const [tenant, setTenant] = useState(ownTenant);
  const loadTenants = useCallback(() => {
    if (!provider) return;
    api.tenants().then(
      (list) => {
        setTenants(list);
        setTenantsError(null);
      },
      (error: unknown) => setTenantsError(errorText(error)),
    );
  }, [api, provider]);
  useEffect(loadTenants, [loadTenants]);
  // Tenant-scoped calls name the tenant only when a provider admin acts in another.
  const scoped = provider && tenant !== ownTenant ? tenant : undefined;
  const tenantScoped = section === 'users' || section === 'tenants' || section === 'tokens';

  return (
    <section className="admin" data-testid="admin-view">
      <nav className="admin-nav" aria-label="Administration">
        <h2>Administration</h2>
        {sections.map((entry) => (
          <button key={entry} className={entry === section ? 'active' : ''} aria-current={entry === section ? 'page' : undefined} onClick={() => setSection(entry)} data-testid={`admin-section-${entry}`}>
            {SECTION_LABELS[entry]}
          </button>
        ))}
        <span className="spacer" />
        <button onClick={onClose} data-testid="admin-close">← Back to consoles</button>
      </nav>
      <div className="admin-body">
        <header className="admin-header">
          <h2>{SECTION_LABELS[section]}</h2>
          {tenantScoped ? (
            provider ? (
              <label>
                Tenant{' '}
                <select value={tenant} onChange={(event) => setTenant(event.target.value)} data-testid="admin-tenant">
                  {(tenants.length === 0 ? [{ id: ownTenant, name: ownTenant }] : tenants).map((entry) => <option key={entry.id} value={entry.id}>{entry.id} — {entry.name}</option>)}
                </select>
              </label>
            ) : (
              <span className="hint">Tenant {ownTenant}</span>
            )
          ) : null}
        </header>
        {tenantsError !== null ? <p className="error" role="alert">{tenantsError}</p> : null}
        {section === 'users' ? <UsersSection api={api} tenant={scoped} role={role} servers={servers} /> : null}
        {section === 'tenants' ? <TenantsSection api={api} tenant={tenant} role={role} onTenantsChanged={loadTenants} /> : null}
        {section === 'agents' ? <AgentsSection api={api} tenants={tenants} /> : null}
        {section === 'discovered' ? <DiscoveredSection api={api} tenants={tenants} /> : null}
        {section === 'join-tokens' ? <JoinTokensSection api={api} tenants={tenants} /> : null}
        {section === 'tokens' ? <TokensSection api={api} tenant={scoped} role={role} /> : null}
        {section === 'audit' ? <AuditSection api={api} platform={platform} baseUrl={client.baseUrl} /> : null}
      </div>
    </section>
  );
}
