import type {
  AdoptRequest,
  AdoptResult,
  AgentList,
  AgentView,
  ApiTokenCreated,
  ApiTokenList,
  ApiTokenView,
  AuditPage,
  AutomationPolicyView,
  DiscoveredBmcView,
  DiscoveredList,
  GrantList,
  GrantSelector,
  GrantView,
  JoinTokenCreated,
  JoinTokenList,
  JoinTokenView,
  MediaUrlPolicy,
  MediaUrlPolicyView,
  RecordingPolicyView,
  RecordingRules,
  Role,
  ScanStarted,
  TenantList,
  TenantView,
  UserList,
  UserView,
} from '@lightsout/shared';
import type { RelayClient } from '../api/relay-client.js';

const tenantQuery = (tenant: string | undefined) => (tenant === undefined ? '' : `?tenant=${encodeURIComponent(tenant)}`);
const id = (value: string) => encodeURIComponent(value);

/**
 * The relay's administration API (the same calls as cli/src/commands/*) as
 * typed calls over the app's RelayClient, so step-up and sign-in expiry are
 * handled as everywhere else. `tenant` is for provider admins acting in
 * another tenant; a tenant admin leaves it out (the relay uses theirs).
 */
export class AdminApi {
  constructor(readonly client: RelayClient) {}

  async users(tenant?: string): Promise<UserView[]> {
    return (await this.client.request<UserList>('GET', `/v1/users${tenantQuery(tenant)}`)).users;
  }
  createUser(body: { username: string; password: string; role: Role; tenant?: string }): Promise<UserView> {
    return this.client.request('POST', '/v1/users', body);
  }
  updateUser(userId: string, body: { role?: Role; disabled?: boolean; password?: string }): Promise<UserView> {
    return this.client.request('PATCH', `/v1/users/${id(userId)}`, body);
  }
  /** A one-time code the user enrolls their second factor with. */
  mfaEnrollment(userId: string): Promise<{ code: string; expiresAt: string }> {
    return this.client.request('POST', `/v1/users/${id(userId)}/mfa-enrollment`);
  }

  async grants(tenant?: string): Promise<GrantView[]> {
    return (await this.client.request<GrantList>('GET', `/v1/grants${tenantQuery(tenant)}`)).grants;
  }
  createGrant(userId: string, selector: GrantSelector): Promise<GrantView> {
    return this.client.request('POST', '/v1/grants', { userId, selector });
  }
  deleteGrant(grantId: string): Promise<void> {
    return this.client.request('DELETE', `/v1/grants/${id(grantId)}`);
  }

  async tenants(): Promise<TenantView[]> {
    return (await this.client.request<TenantList>('GET', '/v1/tenants')).tenants;
  }
  createTenant(body: { id: string; name: string; requireMfa: boolean }): Promise<TenantView> {
    return this.client.request('POST', '/v1/tenants', body);
  }
  updateTenant(tenantId: string, body: { name?: string; requireMfa?: boolean }): Promise<TenantView> {
    return this.client.request('PATCH', `/v1/tenants/${id(tenantId)}`, body);
  }
  mediaUrlPolicy(tenant?: string): Promise<MediaUrlPolicyView> {
    return this.client.request('GET', `/v1/media/url-policy${tenantQuery(tenant)}`);
  }
  setMediaUrlPolicy(policy: MediaUrlPolicy, tenant?: string): Promise<MediaUrlPolicyView> {
    return this.client.request('PUT', `/v1/media/url-policy${tenantQuery(tenant)}`, policy);
  }
  recordingPolicy(tenantId: string): Promise<RecordingPolicyView> {
    return this.client.request('GET', `/v1/tenants/${id(tenantId)}/recording-policy`);
  }
  setRecordingPolicy(tenantId: string, rules: RecordingRules): Promise<RecordingPolicyView> {
    return this.client.request('PUT', `/v1/tenants/${id(tenantId)}/recording-policy`, rules);
  }
  automationPolicy(tenant?: string): Promise<AutomationPolicyView> {
    return this.client.request('GET', `/v1/automation/policy${tenantQuery(tenant)}`);
  }

  async agents(): Promise<AgentView[]> {
    return (await this.client.request<AgentList>('GET', '/v1/agents')).agents;
  }
  revokeAgent(agentId: string): Promise<AgentView> {
    return this.client.request('POST', `/v1/agents/${id(agentId)}/revoke`);
  }
  setAgentTenants(agentId: string, tenants: string[]): Promise<AgentView> {
    return this.client.request('PUT', `/v1/agents/${id(agentId)}/tenants`, { tenants });
  }

  /** What the agents' discovery scans found (provider admins); `adopted: false` leaves out the ones adopted already. */
  async discovered(adopted?: boolean): Promise<DiscoveredBmcView[]> {
    return (await this.client.request<DiscoveredList>('GET', `/v1/discovered${adopted === undefined ? '' : `?adopted=${String(adopted)}`}`)).discovered;
  }
  /** A scan on the agent now; its findings arrive when it is done. */
  scanDiscovery(agentId: string): Promise<ScanStarted> {
    return this.client.request('POST', '/v1/discovered/scan', { agentId });
  }
  adoptDiscovered(body: AdoptRequest): Promise<AdoptResult> {
    return this.client.request('POST', '/v1/discovered/adopt', body);
  }

  async joinTokens(): Promise<JoinTokenView[]> {
    return (await this.client.request<JoinTokenList>('GET', '/v1/agents/join-tokens')).joinTokens;
  }
  createJoinToken(body: { region: string; datacenter: string; tenants: string[]; ttlSeconds?: number }): Promise<JoinTokenCreated> {
    return this.client.request('POST', '/v1/agents/join-tokens', body);
  }
  revokeJoinToken(tokenId: string): Promise<void> {
    return this.client.request('DELETE', `/v1/agents/join-tokens/${id(tokenId)}`);
  }

  async apiTokens(tenant?: string): Promise<ApiTokenView[]> {
    return (await this.client.request<ApiTokenList>('GET', `/v1/tokens${tenantQuery(tenant)}`)).tokens;
  }
  createApiToken(body: { name: string; role: Role; ttlSeconds?: number; tenant?: string }): Promise<ApiTokenCreated> {
    return this.client.request('POST', '/v1/tokens', body);
  }
  revokeApiToken(tokenId: string): Promise<{ id: string; revokedAt: string }> {
    return this.client.request('POST', `/v1/tokens/${id(tokenId)}/revoke`);
  }

  audit(query: string): Promise<AuditPage> {
    return this.client.request('GET', `/v1/audit?${query}`);
  }
}
