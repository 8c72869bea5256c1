import { type AddressInfo, type Server as TcpServer, createServer } from 'node:net';
import { LightsoutError, type SessionCreated, type SetTimer, type StreamMode, type StreamSocketFactory } from '@lightsout/shared';
import type { FastifyBaseLogger } from 'fastify';
import ssh2, { type Connection, type PseudoTtyInfo, type ServerChannel, type Session } from 'ssh2';
import { type RateLimit, TokenBuckets } from '../agents/fairness.js';
import type { AuditEvent } from '../audit/audit.js';
import { registrantOf } from '../identity/client-registration.js';
import type { Principal } from '../identity/verifier.js';
import { ED25519_CERT, type UserCertificate, verifyCertificateSignature } from './certificates.js';
import { endChannel, refuseRequest } from './channel-requests.js';
import { ConsoleChannel } from './console-channel.js';
import { SshExitStatus, exitStatusOf } from './exit-status.js';
import type { HostKey } from './host-key.js';
import { LiveConnections } from './live-connections.js';
import { parseLoginName } from './login-name.js';
import { PreAuthGate, type PreAuthLimits } from './pre-auth-gate.js';
import { fingerprintOf } from './public-keys.js';

const { Server, utils } = ssh2;

/** The account a registered key opens, as it is now (an unknown or disabled account has none). */
export interface KeyHolder {
  keyId: string;
  /** `algorithm base64`, to verify the client's signature with. */
  publicKey: string;
  principal: Principal;
  /** A certificate's valid-before (seconds since the epoch): past it the certificate opens nothing, not even on a live connection. */
  validBefore?: number;
}

/** A revocation notice as the front door needs it: an account lost access, or a key was removed (on any replica). */
export type SshRevocation = { subject: string } | { keyId: string };

/** A console the front door may attach an SSH channel to. */
export interface ConsoleOpening {
  session: SessionCreated;
  /** This relay's own stream endpoint for the session. */
  streamUrl: string;
  breakSupported: boolean;
}

export interface ConsoleListing {
  id: string;
  kind: 'sol' | 'serial';
  agentOnline: boolean;
}

export interface FrontDoorDependencies {
  hostKey: HostKey;
  failedAuthPerAddress: RateLimit;
  preAuth: PreAuthLimits;
  holderOf(fingerprint: string): Promise<KeyHolder | undefined>;
  /** The registered key with this fingerprint signed (its signature verified): record its use. */
  keyUsed(fingerprint: string): Promise<void>;
  /**
   * The account an OpenSSH certificate opens: signed by the deployment's CA,
   * valid now, for that account (ssh/certificates.ts). Undefined, or a
   * LightsoutError saying why, when it opens none.
   */
  holderOfCertificate(blob: Buffer): Promise<{ holder: KeyHolder; certificate: UserCertificate } | undefined>;
  /** Checks the principal's permission, grants and tenant; throws LightsoutError (NOT_FOUND, FORBIDDEN, BMC_UNSUPPORTED, AGENT_OFFLINE …). */
  openConsole(principal: Principal, serverId: string, mode: StreamMode, audit: { fingerprint: string; keyId: string; sourceIp: string }): Promise<ConsoleOpening>;
  listConsoles(principal: Principal): Promise<ConsoleListing[]>;
  /**
   * The holder as the store has it now (key still registered, account
   * enabled and in its tenant, its current role, certificate still valid),
   * or undefined when it opens nothing any more: asked before every console
   * and list of a live connection, so one authentication is not a lasting pass.
   */
  holderNow(holder: KeyHolder): Promise<KeyHolder | undefined>;
  /** Hears revocations from every relay of the deployment; returns the unsubscribe. */
  onRevocation(listener: (revocation: SshRevocation) => void): () => void;
  audit(event: AuditEvent): void;
  log: FastifyBaseLogger;
  socket: StreamSocketFactory;
  setTimer: SetTimer;
}

/** What one connection proved: the key, and whose it is. */
interface Authenticated {
  /** As of the last check: replaced by what the store says before every console or list. */
  holder: KeyHolder;
  fingerprint: string;
  loginName: string;
}

/** One connection's consoles, and whether it has closed (a console that opens after that is left at once). */
interface ConnectionConsoles {
  live: Set<ConsoleChannel>;
  closed: boolean;
}

/** A console opened at authentication, waiting for the connection's shell: or why it could not open. */
type EarlyConsole = { opening: ConsoleOpening; console: ConsoleChannel } | { failure: LightsoutError };

/**
 * How long a console opened at authentication waits for the client's shell
 * request (OpenSSH sends it within a few round trips; `ssh -N`, a port
 * forward or an exec never does): then it is left, and a later shell opens
 * its own.
 */
const EARLY_CONSOLE_WAIT_MS = 10_000;

/** How long a connection refused for a revoked holder may take to collect its exit status before it is ended. */
const REVOKED_CONNECTION_LINGER_MS = 1000;

/** An RSA certificate whose user signature is RSA with SHA-1 (PROTOCOL.certkeys; rsa-sha2-256/512-cert-v01 sign with SHA-2). */
const RSA_SHA1_CERT = 'ssh-rsa-cert-v01@openssh.com';
const SHA1_REFUSED = 'RSA signature with SHA-1 (ssh-rsa) refused: sign with rsa-sha2-256 or rsa-sha2-512 (RFC 8332)';

/**
 * Whether a publickey request (RFC 4252 §7) names RSA with SHA-1 as its
 * signature algorithm: `ssh-rsa` (RFC 4253 §6.6), which RFC 8332 replaces
 * with rsa-sha2-256/512 and OpenSSH 8.8 refuses by default, or an RSA
 * certificate signed the same way. ssh2 reports an rsa-sha2-* request as
 * key algorithm ssh-rsa with its hash apart, and an ssh-rsa one with none.
 */
function signsWithSha1(algorithm: string, hashAlgo: string | undefined): boolean {
  return (algorithm === 'ssh-rsa' && hashAlgo === undefined) || algorithm === RSA_SHA1_CERT;
}

/**
 * The SSH front door: `ssh sim-01@relay` with a key registered on the user's
 * account opens that server's serial console (ssh2, RFC 4252 public-key
 * authentication only). The user name picks the console (login-name.ts);
 * everything after authentication is an ordinary console session of the
 * stream plane (console-channel.ts), so permissions, grants, tenant scope,
 * recording, sharing and revocation are the ones every other client gets.
 *
 * Per connection: unauthenticated ─key + valid signature→ authenticated ─shell→ console | list
 *                 unauthenticated ─failures over the address's budget→ dropped
 *                 unauthenticated ─login grace time over→ dropped
 *                 (none) ─too many unauthenticated, from its address or in all→ dropped at once
 *                 authenticated ─its account or key revoked→ dropped
 *
 * A login name that asks for a console opens it as soon as the key is
 * accepted (never before: an unauthenticated client makes the agent open
 * nothing), so the session, the agent's dial-back and the BMC's SOL
 * activation run while OpenSSH asks for its session channel, pty and shell;
 * the first shell of the connection takes it over.
 */
export class SshFrontDoor {
  private readonly server: InstanceType<typeof Server>;
  private readonly failures: TokenBuckets;
  /** Authenticated connections by key and by account: a revocation of either ends them. */
  private readonly live = new LiveConnections();
  private readonly connections = new Set<Connection>();
  /** TCP accept is ours: the pre-authentication limits apply before ssh2 reads a byte (it sees a connection only once the client identifies itself). */
  private readonly listener: TcpServer;
  private readonly gate: PreAuthGate;
  private readonly stopHearing: () => void;

  constructor(private readonly dependencies: FrontDoorDependencies) {
    this.failures = new TokenBuckets(dependencies.failedAuthPerAddress);
    this.server = new Server({ hostKeys: [dependencies.hostKey.privateKey], ident: 'Lightsout' }, (client, info) => this.onConnection(client, info.ip, info.port));
    this.gate = new PreAuthGate(dependencies.preAuth, dependencies.setTimer, (address, reason) =>
      dependencies.log.info({ sourceIp: address }, reason === 'limit' ? 'SSH connection dropped: too many unauthenticated connections' : 'SSH connection dropped: not authenticated within the login grace time'),
    );
    this.listener = createServer((socket) => {
      socket.on('error', () => undefined); // a reset before the handshake is the client's business
      if (this.gate.admit(socket)) this.server.injectSocket(socket);
    });
    // A client that vanishes mid-handshake is not the server's error.
    this.server.on('error', (error: Error) => dependencies.log.warn({ err: error }, 'SSH front door error'));
    // The whole connection ends, not only its consoles: it could otherwise open new ones with what it proved before.
    this.stopHearing = dependencies.onRevocation((revocation) => {
      const ended = 'keyId' in revocation ? this.live.endKey(revocation.keyId) : this.live.endSubject(revocation.subject);
      if (ended > 0) dependencies.log.info({ ...revocation, ended }, 'revocation ended SSH connections');
    });
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.listener.once('error', reject);
      this.listener.listen(port, host, () => {
        this.listener.off('error', reject);
        this.listener.on('error', (error: Error) => this.dependencies.log.warn({ err: error }, 'SSH front door listener error'));
        resolve((this.listener.address() as AddressInfo).port);
      });
    });
  }

  async close(): Promise<void> {
    this.stopHearing();
    for (const connection of this.connections) connection.end();
    await new Promise<void>((resolve) => this.listener.close(() => resolve()));
  }

  /** A key was removed (revoked): its live connections on this relay end now. */
  dropKey(keyId: string): number {
    return this.live.endKey(keyId);
  }

  /** How many connections there are, and how many of them have not authenticated yet. */
  counts(): { connections: number; unauthenticated: number } {
    return { connections: this.connections.size, unauthenticated: this.gate.unauthenticated };
  }

  private onConnection(client: Connection, sourceIp: string, sourcePort: number): void {
    this.connections.add(client);
    const consoles: ConnectionConsoles = { live: new Set(), closed: false };
    const tried = new Set<string>();
    let authenticated: Authenticated | undefined;
    let throttled = false;
    let sha1Refused = false;
    // Failures are budgeted per address as the pre-authentication gate counts them: an IPv6 /64 is one (RFC 6177).
    const budget = registrantOf(sourceIp);
    const refuse = (fingerprint: string | undefined) => {
      if (fingerprint !== undefined) tried.add(fingerprint);
      if (this.failures.take(budget) > 0) throttled = true;
    };

    client.on('authentication', (context) => {
      if (throttled || this.failures.wait(budget) > 0) {
        throttled = true;
        context.reject([]);
        client.end();
        return;
      }
      // `none` is every client's opening probe: answer with the one method there is, without counting it.
      if (context.method !== 'publickey') return context.reject(['publickey']);
      // Refused when asked (RFC 4252 §7 query) as when signed, before any lookup, like sshd's PubkeyAcceptedAlgorithms.
      if (signsWithSha1(context.key.algo, context.hashAlgo)) {
        sha1Refused = true;
        refuse(fingerprintOf(context.key.data));
        return context.reject(['publickey']);
      }
      if (context.key.algo === ED25519_CERT) {
        this.dependencies
          .holderOfCertificate(context.key.data)
          .then((found) => {
            if (found === undefined) {
              refuse(`certificate:${fingerprintOf(context.key.data)}`);
              return context.reject(['publickey']);
            }
            const fingerprint = fingerprintOf(Buffer.from(found.certificate.publicKey.split(' ')[1]!, 'base64'));
            if (context.signature === undefined || context.blob === undefined) return context.accept();
            if (!verifyCertificateSignature(found.certificate, context.blob, context.signature)) {
              refuse(fingerprint);
              return context.reject(['publickey']);
            }
            authenticated = { holder: found.holder, fingerprint, loginName: context.username };
            context.accept();
          })
          .catch((error: unknown) => {
            // An expired, foreign or malformed certificate: a failed authentication like an unknown key, with its reason in the audit.
            refuse(`certificate: ${error instanceof Error ? error.message.slice(0, 120) : 'refused'}`);
            context.reject(['publickey']);
          });
        return;
      }
      const fingerprint = fingerprintOf(context.key.data);
      this.dependencies
        .holderOf(fingerprint)
        .then((holder) => {
          if (holder === undefined || holder.publicKey.split(' ')[0] !== context.key.algo.replace(/^rsa-sha2-(256|512)$/, 'ssh-rsa')) {
            refuse(fingerprint);
            return context.reject(['publickey']);
          }
          // RFC 4252 §7: a key offered without a signature is a question ("would you take this one?").
          if (context.signature === undefined || context.blob === undefined) return context.accept();
          const key = utils.parseKey(holder.publicKey);
          const parsed = key instanceof Error ? undefined : Array.isArray(key) ? key[0] : key;
          if (parsed === undefined || !parsed.verify(context.blob, context.signature, context.hashAlgo)) {
            refuse(fingerprint);
            return context.reject(['publickey']);
          }
          authenticated = { holder, fingerprint, loginName: context.username };
          this.settle(this.dependencies.keyUsed(fingerprint), 'recording the key use');
          context.accept();
        })
        .catch((error: unknown) => {
          this.dependencies.log.error({ err: error }, 'SSH key lookup failed');
          context.reject(['publickey']);
        });
    });

    client.on('ready', () => {
      this.gate.authenticated(sourceIp, sourcePort);
      const { holder, fingerprint, loginName } = authenticated!;
      this.live.add(client, { keyId: holder.keyId, subject: holder.principal.subject });
      this.dependencies.audit({ action: 'ssh.connect', outcome: 'success', subject: holder.principal.subject, tenant: holder.principal.tenant, target: `ssh:${loginName.slice(0, 80)}`, sourceIp, details: { fingerprint, keyId: holder.keyId } });
      let early = this.openEarly(authenticated!, sourceIp, consoles);
      let cancelExpiry = () => undefined as void;
      const takeEarly = () => {
        const taken = early;
        early = undefined;
        cancelExpiry();
        return taken;
      };
      if (early !== undefined) {
        cancelExpiry = this.dependencies.setTimer(() => this.settle(takeEarly()?.then((opened) => ('console' in opened ? opened.console.hangUp() : undefined)), 'leaving the unclaimed console'), EARLY_CONSOLE_WAIT_MS);
        client.once('close', () => cancelExpiry());
      }
      client.on('session', (acceptSession) => this.onSession(client, acceptSession(), consoles, authenticated!, sourceIp, takeEarly));
    });

    client.on('error', (error: Error) => this.dependencies.log.debug({ err: error, sourceIp }, 'SSH connection error'));
    client.on('close', () => {
      this.connections.delete(client);
      // However the connection ended, its consoles leave now (ssh2 also closes its channels; leaving twice is a no-op).
      consoles.closed = true;
      for (const console of consoles.live) console.hangUp();
      if (authenticated !== undefined) {
        this.live.remove(client, { keyId: authenticated.holder.keyId, subject: authenticated.holder.principal.subject });
        return;
      }
      // A refusal is audited once per connection, naming every key it offered (a client offers several in turn).
      if (tried.size > 0 || throttled) {
        this.dependencies.audit({ action: 'ssh.connect', outcome: 'denied', sourceIp, details: { fingerprints: [...tried].slice(0, 20), reason: throttled ? 'too many failed authentications from this address' : sha1Refused ? SHA1_REFUSED : 'no registered key' } });
      }
    });
    this.interceptBreak(client);
  }

  /** Opens the console a login name asks for, before the shell request; undefined for a login that lists consoles. */
  private openEarly(authenticated: Authenticated, sourceIp: string, consoles: ConnectionConsoles): Promise<EarlyConsole> | undefined {
    const { holder, fingerprint } = authenticated;
    const request = parseLoginName(authenticated.loginName);
    // `ssh host` logs in with the local user name: one's own name (like no server at all) asks for the list.
    if (request.kind === 'list' || (request.serverId === holder.principal.username && request.mode === 'control')) return undefined;
    return this.dependencies.openConsole(holder.principal, request.serverId, request.mode, { fingerprint, keyId: holder.keyId, sourceIp }).then(
      (opening): EarlyConsole => {
        const console = new ConsoleChannel({
          session: opening.session,
          streamUrl: opening.streamUrl,
          socket: this.dependencies.socket,
          setTimer: this.dependencies.setTimer,
          breakSupported: opening.breakSupported,
        });
        consoles.live.add(console);
        // The client went away while the console was opening: nothing will ever attach to it or end it but this.
        if (consoles.closed) console.hangUp();
        this.settle(
          console.done.then((outcome) => {
            consoles.live.delete(console);
            this.dependencies.log.info({ serverId: opening.session.serverId, sessionId: opening.session.sessionId, fingerprint, ...outcome }, 'SSH console ended');
          }),
          'ending a console',
        );
        return { opening, console };
      },
      (error: unknown): EarlyConsole => {
        if (!(error instanceof LightsoutError)) this.dependencies.log.error({ err: error }, 'SSH console failed to open');
        return { failure: error instanceof LightsoutError ? error : new LightsoutError('INTERNAL', 'could not open the console') };
      },
    );
  }

  /**
   * One session channel: pty, env and window changes until its one shell or
   * exec (RFC 4254 §6.5: a channel runs one program); a second one, or a
   * request ssh2 can no longer accept (the channel is closing), is refused.
   *
   *   waiting ─shell→ shell     waiting ─exec→ exec     shell | exec ─shell/exec→ refused (state unchanged)
   */
  private onSession(client: Connection, session: Session, consoles: ConnectionConsoles, authenticated: Authenticated, sourceIp: string, takeEarly: () => Promise<EarlyConsole> | undefined): void {
    let pty: PseudoTtyInfo | undefined;
    let console: ConsoleChannel | undefined;
    let program: 'waiting' | 'shell' | 'exec' = 'waiting';
    session.on('pty', (accept, _reject, info) => {
      pty = info;
      accept?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      console?.resize(info.cols, info.rows);
      accept?.();
    });
    session.on('env', (accept) => accept?.());
    session.on('exec', (accept, reject) => {
      const channel = program === 'waiting' ? accept() : undefined;
      if (channel === undefined) return refuseRequest(client, session, reject);
      program = 'exec';
      // A command instead of a shell: the console opened for this connection is not wanted.
      this.settle(takeEarly()?.then((opened) => ('console' in opened ? opened.console.hangUp() : undefined)), 'leaving the unwanted console');
      channel.stderr.write('lightsout: this gateway runs no commands; connect with the server as the user name (ssh sim-01@host)\r\n');
      channel.exit(SshExitStatus.USAGE);
      channel.end();
    });
    session.on('shell', (accept, reject) => {
      const channel = program === 'waiting' ? accept() : undefined;
      if (channel === undefined) return refuseRequest(client, session, reject);
      program = 'shell';
      this.startShell(client, channel, authenticated, sourceIp, pty, takeEarly(), consoles).then(
        (opened) => {
          console = opened;
          if (opened === undefined) return;
          this.breaks.set(session, () => opened.sendBreak());
        },
        (error: unknown) => {
          this.dependencies.log.error({ err: error, sourceIp }, 'SSH shell failed');
          endChannel(channel, SshExitStatus.ERROR);
        },
      );
    });
    session.on('close', () => this.breaks.delete(session));
  }

  /** Runs a step whose outcome nobody waits for; a failure is logged, never left as an unhandled rejection. */
  private settle(step: Promise<unknown> | undefined, what: string): void {
    step?.catch((error: unknown) => this.dependencies.log.error({ err: error }, `SSH front door: ${what} failed`));
  }

  private async startShell(client: Connection, channel: ServerChannel, authenticated: Authenticated, sourceIp: string, pty: PseudoTtyInfo | undefined, early: Promise<EarlyConsole> | undefined, consoles: ConnectionConsoles): Promise<ConsoleChannel | undefined> {
    const eol = '\r\n';
    const hangUpEarly = () => this.settle(early?.then((opened) => ('console' in opened ? opened.console.hangUp() : undefined)), 'leaving a console opened for a stale holder');
    const current = await this.dependencies.holderNow(authenticated.holder);
    if (current === undefined) {
      // Revoked since the connection authenticated (on this replica or another, or a certificate expired): nothing more opens on it.
      hangUpEarly();
      this.dependencies.log.info({ sourceIp, subject: authenticated.holder.principal.subject, keyId: authenticated.holder.keyId }, 'SSH connection no longer authorised');
      channel.stderr.write(`lightsout: FORBIDDEN: this key or certificate no longer opens an account (removed, user disabled or expired)${eol}`);
      // The connection ends once the client has the exit status (ending it at once loses that), or a second later regardless.
      const cancel = this.dependencies.setTimer(() => client.end(), REVOKED_CONNECTION_LINGER_MS);
      channel.once('close', () => {
        cancel();
        client.end();
      });
      endChannel(channel, SshExitStatus.NOT_ALLOWED);
      return undefined;
    }
    const stale = current.principal.role !== authenticated.holder.principal.role || current.principal.tenant !== authenticated.holder.principal.tenant;
    authenticated.holder = current;
    if (stale) hangUpEarly();
    const prepared = (stale ? undefined : early) ?? this.openEarly(authenticated, sourceIp, consoles);
    const { holder } = authenticated;
    if (prepared === undefined) {
      await this.writeList(channel, holder.principal, `Consoles this key may open (ssh <server>@host, or <server>+view@host to watch):${eol}`);
      channel.exit(SshExitStatus.OK);
      channel.end();
      return undefined;
    }
    const opened = await prepared;
    if ('failure' in opened) {
      const { failure } = opened;
      channel.stderr.write(`lightsout: ${failure.code}: ${failure.message}${failure.hint === undefined ? '' : `${eol}  hint: ${failure.hint}`}${eol}`);
      if (failure.code === 'NOT_FOUND') await this.writeList(channel, holder.principal, `Consoles this key may open:${eol}`, true);
      channel.exit(exitStatusOf(failure.code));
      channel.end();
      return undefined;
    }
    const { opening, console } = opened;
    channel.stderr.write(`[lightsout: ${opening.session.serverId} ${opening.session.kind.toUpperCase()} console, ${opening.session.mode === 'view' ? 'read-only view' : 'control'}; ~. to leave, ~? for help]${eol}`);
    if (pty !== undefined) console.resize(pty.cols, pty.rows);
    console.attach(channel);
    return console;
  }

  private async writeList(channel: ServerChannel, principal: Principal, heading: string, toStderr = false): Promise<void> {
    const consoles = await this.dependencies.listConsoles(principal);
    const out = toStderr ? channel.stderr : channel;
    out.write(heading);
    if (consoles.length === 0) out.write('  (none)\r\n');
    for (const entry of consoles) out.write(`  ${entry.id.padEnd(24)} ${entry.kind.padEnd(7)} ${entry.agentOnline ? 'online' : 'agent offline'}\r\n`);
  }

  /** Sessions whose console takes a serial break, for OpenSSH's own `~B`. */
  private readonly breaks = new Map<Session, () => void>();

  /**
   * OpenSSH's `~B` sends an RFC 4335 "break" channel request, which ssh2
   * does not surface (it refuses unknown requests itself). The connection's
   * request handler is wrapped to see it first; should ssh2's internals ever
   * change shape, `~~B` (the gateway's own escape) still sends the break.
   */
  private interceptBreak(client: Connection): void {
    const internals = client as unknown as { _protocol?: { _handlers?: Record<string, unknown>; channelSuccess?(id: number): void }; _chanMgr?: { get(id: number): unknown } };
    const handlers = internals._protocol?._handlers;
    const original = handlers?.['CHANNEL_REQUEST'];
    if (handlers === undefined || typeof original !== 'function' || internals._chanMgr === undefined) return;
    handlers['CHANNEL_REQUEST'] = (protocol: unknown, recipient: number, type: string, wantReply: boolean, data: unknown) => {
      if (type === 'break') {
        const session = internals._chanMgr!.get(recipient) as (Session & { _chanInfo?: { outgoing: { id: number } } }) | undefined;
        const sendBreak = session === undefined ? undefined : this.breaks.get(session);
        if (sendBreak !== undefined) {
          sendBreak();
          if (wantReply && session?._chanInfo !== undefined) internals._protocol!.channelSuccess?.(session._chanInfo.outgoing.id);
          return;
        }
      }
      (original as (...args: unknown[]) => void)(protocol, recipient, type, wantReply, data);
    };
  }
}
