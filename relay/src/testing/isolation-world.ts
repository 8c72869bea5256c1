import { createHmac, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type JWK, SignJWT, decodeJwt, importJWK } from 'jose';
import { createUser, ensureTenant } from '../identity/accounts.js';
import { readProviderSecrets } from '../identity/keys.js';
import { type RunningRelay, loginWithPassword } from './index.js';
import { FileRecordingStorage } from '../plugins/streams/recordings/storage.js';
import { createApiToken } from '../access/api-tokens.js';
import { generateEd25519Key } from '../ssh/ed25519-key.js';
import { addSshKey } from '../ssh/key-registry.js';

/**
 * Test-only: two tenants on one relay. `alpha` is the victim: every piece of
 * its data carries its own random marker, so a response that contains one
 * (without the request having named it) is a leak. The attackers are
 * tenant `bravo`'s users and a set of broken credentials forged from
 * alpha's own admin token — if any broken credential were accepted, alpha's
 * data would come back and the leak check fires too.
 */
export interface IsolationWorld {
  alpha: {
    serverId: string;
    agentId: string;
    adminUserId: string;
    revokedUserId: string;
    grantId: string;
    tokenId: string;
    /** An SSH key on alpha's admin, and its public half (registering it again must be refused to anyone). */
    sshKeyId: string;
    sshPublicKey: string;
    uploadId: string;
    /** A console recording of alpha's server, with a typed secret inside. */
    recordingId: string;
    /** A bulk job alpha's admin started (sensors of alpha's server). */
    bulkJobId: string;
    /** Every alpha value a foreign caller must never see. */
    secrets: string[];
  };
  /**
   * Alpha's own users whose grants name only another alpha server: to them
   * alpha's server and its recordings (the admin's, and one of their own
   * sessions from before the grant) must not exist, as to another tenant.
   */
  narrowed: {
    /** Narrowed identity → Authorization header value. */
    identities: Map<NarrowedIdentityName, string>;
    /** A recording the narrowed viewer made on alpha's server, with a typed secret inside. */
    ownRecordingId: string;
    /** What only the server's own grant reveals: none may reach a narrowed user. */
    secrets: string[];
  };
  /** Alpha's own valid admin credential: what the victim sees (proves the markers are detectable). */
  alphaAdminAuthorization: string;
  /** Identity name → Authorization header value (undefined = anonymous). */
  identities: Map<IdentityName, string | undefined>;
}

export const BROKEN_IDENTITIES = ['anonymous', 'expired-token', 'wrong-audience', 'alg-none', 'hs256-public-key', 'tampered-signature', 'revoked-user', 'revoked-service-account'] as const;
export const FOREIGN_IDENTITIES = ['bravo-viewer', 'bravo-operator', 'bravo-tenant-admin', 'bravo-service-account'] as const;
export type IdentityName = (typeof BROKEN_IDENTITIES)[number] | (typeof FOREIGN_IDENTITIES)[number];
/** Alpha's tenant admin (holds recordings.read) and viewer (their own recordings only), both granted only alpha's other server. */
export const NARROWED_IDENTITIES = ['alpha-narrowed-tenant-admin', 'alpha-narrowed-viewer'] as const;
export type NarrowedIdentityName = (typeof NARROWED_IDENTITIES)[number];

export const ISOLATION_PASSWORD = 'isolation-matrix-password';
const PASSWORD = ISOLATION_PASSWORD;
const marker = (label: string) => `${label}-${randomBytes(6).toString('hex')}`;
const base64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

export async function buildIsolationWorld(relay: RunningRelay): Promise<IsolationWorld> {
  const { store } = relay.app;
  const tenantName = marker('alpha-tenant-name');
  await ensureTenant(store, 'alpha', tenantName);
  await ensureTenant(store, 'bravo', 'Bravo');
  const agentId = marker('agent');
  const now = Date.now();
  const agent = (id: string) => ({ id, name: id, region: 'eu', datacenter: 'fra1', public_jwk: '{}', revoked: 0, version: null, connected_at: null, last_seen_at: null, created_at: now });
  await store.insertInto('agents').values([agent(agentId), agent('bravo-agent')]).execute();
  const serverId = marker('srv-alpha');
  const serverName = marker('alpha-box');
  const rack = marker('alpha-rack');
  const labelValue = marker('alpha-label');
  const bmcHost = `${marker('alpha-bmc')}.example`;
  const server = (id: string, tenant: string, name: string, serverRack: string, labels: Record<string, string>, host: string, owner = agentId) => ({
    id,
    name,
    tenant_id: tenant,
    region: 'eu',
    datacenter: 'fra1',
    rack: serverRack,
    labels: JSON.stringify(labels),
    endpoints: JSON.stringify({ ipmi: `${host}:623`, redfish: `https://${host}` }),
    capabilities: JSON.stringify(['power', 'boot', 'sensors', 'sel', 'sol', 'vnc', 'media']),
    agent_id: owner,
    power: 'on',
    reachable: 1,
    state_at: now,
    updated_at: now,
  });
  const otherServerId = marker('srv-alpha-other');
  await store
    .insertInto('servers')
    .values([server(serverId, 'alpha', serverName, rack, { owner: labelValue }, bmcHost), server(otherServerId, 'alpha', marker('alpha-other-box'), marker('alpha-other-rack'), {}, `${marker('alpha-other-bmc')}.example`), server('bravo-web-1', 'bravo', 'bravo web 1', 'b1', {}, 'bravo-bmc.example', 'bravo-agent')])
    .execute();

  const adminName = marker('alpha-admin');
  const revokedName = marker('alpha-leaver');
  const alphaAdmin = await createUser(store, { tenant: 'alpha', username: adminName, password: PASSWORD, role: 'tenant-admin' });
  const alphaRevoked = await createUser(store, { tenant: 'alpha', username: revokedName, password: PASSWORD, role: 'operator' });
  const grantId = marker('grant');
  await store.insertInto('grants').values({ id: grantId, tenant_id: 'alpha', subject: alphaRevoked.id, selector: JSON.stringify({ kind: 'rack', rack }), created_by: alphaAdmin.id, created_at: now }).execute();
  const tokenName = marker('alpha-automation');
  const alphaToken = await createApiToken(store, { tenant: 'alpha', name: tokenName, role: 'operator', ttlSeconds: 3600, createdBy: alphaAdmin.id });
  const sshPublicKey = generateEd25519Key().public;
  const alphaSshKey = await addSshKey(store, { tenant: 'alpha', subject: alphaAdmin.id }, sshPublicKey, 'alpha-admin-laptop');
  const revokedToken = await createApiToken(store, { tenant: 'alpha', name: marker('alpha-old-automation'), role: 'tenant-admin', ttlSeconds: 3600, createdBy: alphaAdmin.id });
  await store.updateTable('api_tokens').set({ revoked_at: now }).where('id', '=', revokedToken.row.id).execute();
  const auditTarget = marker('alpha-audit');
  await relay.app.audit.append({ action: 'power.off', outcome: 'success', subject: alphaAdmin.id, tenant: 'alpha', target: `server:${serverId}`, details: { note: auditTarget } });
  const uploadId = randomBytes(16).toString('hex');
  // A recording as the recorder writes it; what was typed on the console must never reach another tenant.
  const recordingId = randomBytes(16).toString('base64url').slice(0, 22);
  const typedSecret = marker('alpha-typed-password');
  const recording = new FileRecordingStorage(join(relay.dataDir, 'recordings')).writer({ id: recordingId, sessionId: recordingId, serverId, tenant: 'alpha', kind: 'sol', user: adminName, subject: alphaAdmin.id, startedAt: now });
  recording.append(Buffer.from(`Password: ${typedSecret}\r\n`), now);
  recording.close();

  // Narrowed by grants to the other server. The viewer's own console on alpha's server was recorded before the grant.
  const narrowedIdentities = new Map<NarrowedIdentityName, string>();
  const narrowedNames: string[] = [];
  const narrowedViewer = { id: '', username: '' };
  for (const [identity, role] of [['alpha-narrowed-tenant-admin', 'tenant-admin'], ['alpha-narrowed-viewer', 'viewer']] as const) {
    const username = marker(identity);
    const user = await createUser(store, { tenant: 'alpha', username, password: PASSWORD, role });
    await store.insertInto('grants').values({ id: marker('narrowing-grant'), tenant_id: 'alpha', subject: user.id, selector: JSON.stringify({ kind: 'servers', ids: [otherServerId] }), created_by: alphaAdmin.id, created_at: now }).execute();
    narrowedIdentities.set(identity, `Bearer ${(await loginWithPassword(relay.url, username, PASSWORD)).accessToken}`);
    narrowedNames.push(username, user.id);
    if (role === 'viewer') Object.assign(narrowedViewer, { id: user.id, username });
  }
  const ownRecordingId = randomBytes(16).toString('base64url').slice(0, 22);
  const ownTypedSecret = marker('alpha-own-typed-password');
  const ownRecording = new FileRecordingStorage(join(relay.dataDir, 'recordings')).writer({ id: ownRecordingId, sessionId: ownRecordingId, serverId, tenant: 'alpha', kind: 'sol', user: narrowedViewer.username, subject: narrowedViewer.id, startedAt: now + 1 });
  ownRecording.append(Buffer.from(`Password: ${ownTypedSecret}\r\n`), now + 1);
  ownRecording.close();
  await ownRecording.idle();

  const bravo = new Map<string, string>();
  for (const role of ['viewer', 'operator', 'tenant-admin'] as const) {
    const username = `bravo-${role}`;
    await createUser(store, { tenant: 'bravo', username, password: PASSWORD, role });
    bravo.set(role, (await loginWithPassword(relay.url, username, PASSWORD)).accessToken);
  }
  const bravoToken = await createApiToken(store, { tenant: 'bravo', name: 'bravo-automation', role: 'tenant-admin', ttlSeconds: 3600, createdBy: 'test' });

  // Alpha's own admin token is real; every broken credential below is derived from it.
  const adminToken = (await loginWithPassword(relay.url, adminName, PASSWORD)).accessToken;
  const bulkJob = await relay.app.bulk.submit(await relay.app.identity.principalFromToken(adminToken), { selector: { ids: [serverId] }, operation: { kind: 'sensors.read' } });
  const bulkJobId = bulkJob.jobId!;
  const revokedUserToken = (await loginWithPassword(relay.url, revokedName, PASSWORD)).accessToken;
  await store.updateTable('users').set({ disabled: 1 }).where('id', '=', alphaRevoked.id).execute();

  const secrets = (await readProviderSecrets(relay.app.keyDocuments))!;
  const edKey = secrets.jwks.keys.find((key) => key.alg === 'EdDSA')! as JWK;
  const claims = decodeJwt(adminToken);
  const resign = async (changes: { exp?: number; aud?: string }) =>
    new SignJWT({ ...claims, ...changes }).setProtectedHeader({ alg: 'EdDSA', kid: edKey.kid!, typ: 'at+jwt' }).sign(await importJWK(edKey, 'EdDSA'));
  const [header, payload, signature] = adminToken.split('.') as [string, string, string];
  const hmacInput = `${base64url({ alg: 'HS256', typ: 'JWT', kid: edKey.kid })}.${payload}`;
  const identities = new Map<IdentityName, string | undefined>([
    ['anonymous', undefined],
    ['expired-token', `Bearer ${await resign({ exp: Math.floor(Date.now() / 1000) - 120 })}`],
    ['wrong-audience', `Bearer ${await resign({ aud: `${relay.url}/agent` })}`],
    ['alg-none', `Bearer ${base64url({ alg: 'none', typ: 'JWT' })}.${payload}.`],
    ['hs256-public-key', `Bearer ${hmacInput}.${createHmac('sha256', Buffer.from(edKey.x!, 'base64url')).update(hmacInput).digest('base64url')}`],
    ['tampered-signature', `Bearer ${header}.${payload}.${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`],
    ['revoked-user', `Bearer ${revokedUserToken}`],
    ['revoked-service-account', `Bearer ${revokedToken.token}`],
    ['bravo-viewer', `Bearer ${bravo.get('viewer')}`],
    ['bravo-operator', `Bearer ${bravo.get('operator')}`],
    ['bravo-tenant-admin', `Bearer ${bravo.get('tenant-admin')}`],
    ['bravo-service-account', `Bearer ${bravoToken.token}`],
  ]);
  return {
    alpha: {
      serverId,
      agentId,
      adminUserId: alphaAdmin.id,
      revokedUserId: alphaRevoked.id,
      grantId,
      tokenId: alphaToken.row.id,
      sshKeyId: alphaSshKey.id,
      sshPublicKey,
      uploadId,
      recordingId,
      bulkJobId,
      secrets: [ownRecordingId, ownTypedSecret, otherServerId, ...narrowedNames, bulkJobId, alphaSshKey.id, 'alpha-admin-laptop', recordingId, typedSecret, serverId, serverName, rack, labelValue, bmcHost, adminName, revokedName, alphaAdmin.id, alphaRevoked.id, grantId, tokenName, alphaToken.row.id, revokedToken.row.id, auditTarget, agentId, tenantName],
    },
    narrowed: { identities: narrowedIdentities, ownRecordingId, secrets: [serverId, serverName, rack, labelValue, bmcHost, recordingId, typedSecret, ownRecordingId, ownTypedSecret] },
    alphaAdminAuthorization: `Bearer ${adminToken}`,
    identities,
  };
}
