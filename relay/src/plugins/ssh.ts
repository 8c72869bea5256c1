import type { AddressInfo } from 'node:net';
import { nodeSetTimer, nodeStreamSocket } from '@lightsout/cli/node';
import { type Capability, ErrorBodySchema, LightsoutError, SshCertificate, SshCertificateRequest, SshHostKey, SshKeyCreate, SshKeyList, SshKeyView, type StreamMode } from '@lightsout/shared';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import Type from 'typebox';
import { can, ruleOf } from '../access/permissions.js';
import { serverVisible } from '../access/scope.js';
import { stepUpChallenge, stepUpPolicy, stepUpRequired, stepUpShortfall } from '../access/step-up.js';
import { findAccountById } from '../identity/accounts.js';
import type { Principal } from '../identity/verifier.js';
import { listServers } from '../inventory/servers.js';
import { type ConsoleOpening, type KeyHolder, SshFrontDoor } from '../ssh/front-door.js';
import { checkCertificate, readCertificate, signCertificate, type UserCertificate } from '../ssh/certificates.js';
import { keptOnceLoaded, loadHostKey, loadUserCa } from '../ssh/host-key.js';
import { addSshKey, findSshKey, listSshKeys, markSshKeyUsed, removeSshKey, sshKeyView } from '../ssh/key-registry.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The SSH front door, when this relay listens for SSH (config `ssh.port`, roles all and gateway). */
    sshFrontDoor: { port(): number | undefined; dropKey(keyId: string): number };
  }
}

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema };
const secured = { tags: ['ssh'], security: [{ bearer: [] }] };
/** What an SSH key proves is possession of the key (RFC 8176 `pop`): a recent authentication, not a second factor. */
const SSH_AMR = ['pop'];

/** A revocation notice's subject for a removed SSH key (the notice names an account otherwise). */
const KEY_REVOCATION_PREFIX = 'ssh-key:';

/** The host this relay's own stream endpoint is reached at from inside the process. */
export function loopbackHost(address: AddressInfo): string {
  if (address.address === '0.0.0.0') return '127.0.0.1';
  if (address.address === '::') return '[::1]';
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}

/**
 * SSH keys on users' accounts (/v1/me/ssh-keys), the deployment's host key
 * (/v1/ssh/host-key), and the SSH front door itself (relay/src/ssh) on
 * replicas that serve consoles. docs/native-clients.md is the user's guide.
 */
async function sshPlugin(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const hostKeyOnce = keptOnceLoaded(() => loadHostKey(app.store));
  let frontDoor: SshFrontDoor | undefined;
  let listeningOn: number | undefined;
  app.decorate('sshFrontDoor', { port: () => listeningOn, dropKey: (keyId: string) => frontDoor?.dropKey(keyId) ?? 0 });

  /** Keys exist for the embedded identity provider's users: it alone tells the relay when a user is disabled. */
  const requireEmbedded = () => {
    if (app.config.identity.mode !== 'embedded') {
      throw new LightsoutError('BAD_REQUEST', 'SSH keys need the embedded identity provider: with an external issuer the relay cannot tell when a user loses access', { hint: 'use lightsout console, the desktop app or the web console' });
    }
  };

  app.get('/v1/me/ssh-keys', { config: { permission: 'account.manage-own' }, schema: { ...secured, summary: 'Your SSH public keys for the SSH front door', response: { 200: SshKeyList, ...errors } } }, async (request) => {
    const principal = request.principal!;
    return { keys: (await listSshKeys(app.store, principal)).map(sshKeyView) };
  });

  api.post('/v1/me/ssh-keys', { config: { permission: 'account.manage-own' }, schema: { ...secured, summary: 'Register an SSH public key (ed25519, ECDSA, RSA of 2048 bits or more); needs a recent sign-in', body: SshKeyCreate, response: { 201: SshKeyView, ...errors } } }, async (request, reply) => {
    requireEmbedded();
    const principal = request.principal!;
    // Each connection with a registered key counts as a recent sign-in (holderOf), so the key is bound
    // only by a recent one (RFC 9470 step-up): a days-old token must not mint a lasting "recent sign-in".
    const policy = await stepUpPolicy(app, principal.tenant);
    const shortfall = stepUpShortfall(principal, policy);
    if (shortfall !== undefined) {
      reply.header('www-authenticate', stepUpChallenge(policy));
      await app.audit.fromRequest(request, { action: 'ssh-key.add', outcome: 'denied', subject: principal.subject, tenant: principal.tenant, details: { reason: shortfall } });
      throw stepUpRequired(policy, 'account.manage-own', shortfall);
    }
    const { body } = request;
    let row;
    try {
      row = await addSshKey(app.store, principal, body.publicKey, body.name);
    } catch (error) {
      if (error instanceof LightsoutError) await app.audit.fromRequest(request, { action: 'ssh-key.add', outcome: 'failure', subject: principal.subject, tenant: principal.tenant, details: { code: error.code } });
      throw error;
    }
    await app.audit.fromRequest(request, { action: 'ssh-key.add', outcome: 'success', subject: principal.subject, tenant: principal.tenant, target: `ssh-key:${row.id}`, details: { fingerprint: row.fingerprint, algorithm: row.algorithm, bits: row.bits, name: row.name } });
    return reply.status(201).send(sshKeyView(row));
  });

  api.delete('/v1/me/ssh-keys/:keyId', { config: { permission: 'account.manage-own' }, schema: { ...secured, summary: 'Remove (revoke) one of your SSH keys; its live SSH connections end', params: Type.Object({ keyId: Type.String({ maxLength: 64 }) }), response: { 200: SshKeyView, ...errors } } }, async (request) => {
    const principal = request.principal!;
    const row = await removeSshKey(app.store, principal, request.params.keyId);
    const ended = frontDoor?.dropKey(row.id) ?? 0;
    // The other replicas end theirs when they hear it (a notice for the key, not the user: their other keys and consoles stay).
    await app.revocations.revoke(`${KEY_REVOCATION_PREFIX}${row.id}`, 'SSH key removed');
    await app.audit.fromRequest(request, { action: 'ssh-key.remove', outcome: 'success', subject: principal.subject, tenant: principal.tenant, target: `ssh-key:${row.id}`, details: { fingerprint: row.fingerprint, connectionsEnded: ended } });
    return sshKeyView(row);
  });

  app.get('/v1/ssh/host-key', { config: { permission: 'public' }, schema: { tags: ['ssh'], summary: 'The SSH front door\'s host key and its fingerprint, to verify on first connect', response: { 200: SshHostKey } } }, async () => {
    const { publicKey } = await hostKeyOnce();
    return { algorithm: publicKey.algorithm, fingerprint: publicKey.fingerprint, publicKey: publicKey.line, port: listeningOn ?? app.config.ssh.port ?? null };
  });

  /**
   * The account a key opens now: registered, the user enabled and still in
   * the key's tenant. Asked for an offered key before any signature (RFC 4252
   * §7), so it records nothing: a key's last use is recorded by keyUsed once
   * its signature verified.
   */
  async function holderOf(fingerprint: string): Promise<KeyHolder | undefined> {
    if (app.config.identity.mode !== 'embedded') return undefined;
    const key = await findSshKey(app.store, fingerprint);
    if (key === undefined) return undefined;
    const account = await findAccountById(app.store, key.user_id);
    if (account === undefined || account.tenant !== key.tenant_id) return undefined;
    const now = Math.floor(Date.now() / 1000);
    const principal: Principal = { subject: account.id, username: account.username, tenant: account.tenant, role: account.role, issuer: 'lightsout-ssh', expiresAt: now + 60, authTime: now, amr: SSH_AMR, kind: 'user' };
    return { keyId: key.id, publicKey: key.public_key, principal };
  }

  /** A signature by the registered key verified: its last use is now. */
  async function keyUsed(fingerprint: string): Promise<void> {
    const key = await findSshKey(app.store, fingerprint);
    if (key !== undefined) await markSshKeyUsed(app.store, key);
  }

  const userCaOnce = keptOnceLoaded(() => loadUserCa(app.store));

  /**
   * The account a certificate of this deployment's CA opens now: the key id
   * names the account (`lightsout:<tenant>:<account id>`), its principal is
   * the account's user name, and the account is enabled and still in that
   * tenant. The sign-in the step-up rules judge is the one it carries
   * (AUTH_TIME_EXTENSION: the auth_time of the token it was issued with),
   * never its issue time: a certificate issued to a days-old sign-in is not a
   * recent one. Without it, none (a takeover is refused).
   */
  async function holderOfCertificate(blob: Buffer): Promise<{ holder: KeyHolder; certificate: UserCertificate } | undefined> {
    if (app.config.identity.mode !== 'embedded') return undefined;
    const certificate = readCertificate(blob, (await userCaOnce()).publicKey.line);
    const match = /^lightsout:([^:]+):(.+)$/.exec(certificate.keyId);
    if (match === null) return undefined;
    const account = await findAccountById(app.store, match[2]!);
    if (account === undefined || account.tenant !== match[1]) return undefined;
    const now = Math.floor(Date.now() / 1000);
    checkCertificate(certificate, account.username, now);
    const principal: Principal = { subject: account.id, username: account.username, tenant: account.tenant, role: account.role, issuer: 'lightsout-ssh-ca', expiresAt: Math.min(certificate.validBefore, now + 60), ...(certificate.authTime === undefined ? {} : { authTime: certificate.authTime }), amr: SSH_AMR, kind: 'user' };
    return { holder: { keyId: `cert:${certificate.serial}`, publicKey: certificate.publicKey, principal, validBefore: certificate.validBefore }, certificate };
  }

  /**
   * What a live connection's holder is now: the key still registered (a
   * removal on another replica is seen here), the account enabled, in the
   * same tenant, with its current role; a certificate not yet expired. The
   * sign-in it proved (authTime) stays the connection's authentication.
   */
  async function holderNow(holder: KeyHolder): Promise<KeyHolder | undefined> {
    if (app.config.identity.mode !== 'embedded') return undefined;
    const now = Math.floor(Date.now() / 1000);
    if (holder.validBefore !== undefined && now >= holder.validBefore) return undefined;
    if (holder.validBefore === undefined) {
      const key = await app.store.selectFrom('ssh_keys').select(['user_id', 'tenant_id']).where('id', '=', holder.keyId).executeTakeFirst();
      if (key === undefined || key.user_id !== holder.principal.subject || key.tenant_id !== holder.principal.tenant) return undefined;
    }
    const account = await findAccountById(app.store, holder.principal.subject);
    if (account === undefined || account.tenant !== holder.principal.tenant || account.username !== holder.principal.username) return undefined;
    const expiresAt = holder.validBefore === undefined ? now + 60 : Math.min(holder.validBefore, now + 60);
    return { ...holder, principal: { ...holder.principal, role: account.role, expiresAt } };
  }

  api.post('/v1/me/ssh-certificate', { config: { permission: 'account.manage-own' }, schema: { ...secured, summary: "Sign a short-lived OpenSSH user certificate for your Ed25519 public key with the deployment's SSH CA (lightsout ssh login)", body: SshCertificateRequest, response: { 201: SshCertificate, ...errors } } }, async (request, reply) => {
    requireEmbedded();
    const principal = request.principal!;
    if (principal.kind === 'service-account') throw new LightsoutError('FORBIDDEN', 'SSH certificates are issued to people signed in, not to service accounts');
    const ca = await userCaOnce();
    const issuedAt = Math.floor(Date.now() / 1000);
    const validBefore = issuedAt + app.config.ssh.certificateTtlSeconds;
    const keyId = `lightsout:${principal.tenant}:${principal.subject}`;
    const serial = BigInt(Date.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000));
    // The sign-in behind the token goes into the certificate: the front door's step-up check reads it (holderOfCertificate).
    const certificate = signCertificate({ publicKey: request.body.publicKey, keyId, principals: [principal.username], validAfter: issuedAt, validBefore, serial, ...(principal.authTime === undefined ? {} : { authTime: principal.authTime }) }, ca.privateKey);
    await app.audit.fromRequest(request, { action: 'ssh-certificate.issue', outcome: 'success', subject: principal.subject, tenant: principal.tenant, target: `ssh-certificate:${serial}`, details: { keyId, validBefore: new Date(validBefore * 1000).toISOString() } });
    return reply.status(201).send({ certificate, keyId, principals: [principal.username], serial: serial.toString(), validAfter: new Date(issuedAt * 1000).toISOString(), validBefore: new Date(validBefore * 1000).toISOString(), caPublicKey: ca.publicKey.line });
  });

  /** The same decision as POST /v1/servers/:id/sessions behind the access hook: scope, role, step-up; then the session. */
  async function openConsole(principal: Principal, serverId: string, mode: StreamMode, origin: { fingerprint: string; keyId: string; sourceIp: string }): Promise<ConsoleOpening> {
    // Whether someone else's console is live is asked only about a server the caller may see: the gateway's answer
    // spans every tenant, and a hidden server must be refused and audited exactly like one that does not exist.
    let joining = false;
    const audit = (outcome: 'success' | 'denied' | 'failure', details: Record<string, unknown>) =>
      app.audit.append({ action: joining ? 'session.join' : 'session.open', outcome, subject: principal.subject, tenant: principal.tenant, target: `server:${serverId}`, sourceIp: origin.sourceIp, details: { via: 'ssh', fingerprint: origin.fingerprint, keyId: origin.keyId, mode, ...details } });
    try {
      if (!(await serverVisible(app.store, principal, serverId))) throw new LightsoutError('NOT_FOUND', `no server ${serverId} that this key may open`);
      joining = app.streams.gateway.othersLiveOn(serverId, principal.subject);
      const permission = mode === 'view' ? 'console.view' : joining ? 'console.takeover' : 'console.control';
      if (!can(principal.role, permission)) {
        throw new LightsoutError('FORBIDDEN', `your role (${principal.role}) may not ${permission}`, { hint: mode === 'control' ? `watch instead: ssh ${serverId}+view@<host>` : 'ask a tenant or provider administrator for access' });
      }
      if (ruleOf(permission).stepUp === true) {
        // SSH cannot ask for a sign-in (RFC 9470's challenge is HTTP's): the refusal says where to get one.
        const shortfall = stepUpShortfall(principal, await stepUpPolicy(app, principal.tenant));
        if (shortfall !== undefined) {
          throw new LightsoutError('STEP_UP_REQUIRED', `someone else has this console; taking it over needs ${shortfall.replace(/^sign in again/, 'a fresh sign-in')}`, {
            hint: `watch instead (ssh ${serverId}+view@<host>), take over with lightsout console, or sign in again (lightsout login) and get a new certificate (lightsout ssh login)`,
          });
        }
      }
      const server = await app.store.selectFrom('servers').select(['capabilities', 'agent_id']).where('id', '=', serverId).executeTakeFirstOrThrow();
      const capabilities = JSON.parse(server.capabilities) as Capability[];
      const kind = capabilities.includes('sol') ? 'sol' : capabilities.includes('serial') ? 'serial' : undefined;
      if (kind === undefined) throw new LightsoutError('BMC_UNSUPPORTED', `server ${serverId} has no serial console (no SOL, no serial port)`, { hint: 'its graphical console is in the web console or lightsout vnc' });
      const session = await app.streams.openSession(principal, serverId, { kind, mode });
      // Its agent's gateway: this relay (reached over loopback), or another replica of the deployment (its public URL).
      const ours = app.streams.agentConnectedHere(server.agent_id) || session.streamUrl.startsWith(app.config.publicUrl.replace(/^http/, 'ws'));
      if (ours && !app.streams.agentConnectedHere(server.agent_id)) throw new LightsoutError('AGENT_OFFLINE', `the agent of ${serverId} is offline`, { hint: 'try again when the agent is back (lightsout servers list shows it)' });
      await audit('success', { kind, sessionId: session.sessionId });
      const address = app.server.address() as AddressInfo;
      return { session, streamUrl: ours ? `ws://${loopbackHost(address)}:${address.port}/v1/streams/${session.sessionId}` : session.streamUrl, breakSupported: kind === 'sol' };
    } catch (error) {
      const code = error instanceof LightsoutError ? error.code : 'INTERNAL';
      await audit(code === 'FORBIDDEN' || code === 'NOT_FOUND' || code === 'STEP_UP_REQUIRED' ? 'denied' : 'failure', { code });
      throw error;
    }
  }

  async function listConsoles(principal: Principal) {
    const rows = await listServers(app.store, principal);
    return rows.flatMap((row) => {
      const capabilities = JSON.parse(row.capabilities) as Capability[];
      const kind = capabilities.includes('sol') ? ('sol' as const) : capabilities.includes('serial') ? ('serial' as const) : undefined;
      return kind === undefined ? [] : [{ id: row.id, kind, agentOnline: app.agentRouter.isOnline(row.agent_id) }];
    });
  }

  const port = app.config.ssh.port;
  if (port === undefined || app.config.role === 'manager') return;
  app.addHook('onListen', async () => {
    frontDoor = new SshFrontDoor({
      hostKey: await hostKeyOnce(),
      failedAuthPerAddress: app.config.ssh.failedAuthPerAddress,
      preAuth: { loginGraceMs: app.config.ssh.loginGraceSeconds * 1000, perAddress: app.config.ssh.unauthenticatedPerAddress, total: app.config.ssh.unauthenticatedTotal },
      holderOf,
      keyUsed,
      holderOfCertificate,
      openConsole,
      listConsoles,
      holderNow,
      onRevocation: (listener) =>
        app.revocations.subscribe((notice) => {
          if (notice.kind !== 'subject') return; // a server's move ends its consoles' legs (streams); the connection's holder lost nothing
          listener(notice.subject.startsWith(KEY_REVOCATION_PREFIX) ? { keyId: notice.subject.slice(KEY_REVOCATION_PREFIX.length) } : { subject: notice.subject });
        }),
      audit: (event) => void app.audit.append(event),
      log: app.log,
      socket: nodeStreamSocket(),
      setTimer: nodeSetTimer,
    });
    listeningOn = await frontDoor.listen(port, app.config.ssh.host);
    app.log.info({ host: app.config.ssh.host, port: listeningOn, hostKey: (await hostKeyOnce()).publicKey.fingerprint }, 'SSH front door listening');
  });
  app.addHook('preClose', async () => {
    await frontDoor?.close();
  });
}

export default fp(sshPlugin, { name: 'lightsout-ssh', dependencies: ['lightsout-config', 'lightsout-streams', 'lightsout-revocations'] });
