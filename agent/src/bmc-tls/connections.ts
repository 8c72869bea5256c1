import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import { LightsoutError } from '@lightsout/shared';
import { type CertificateTrustStore, normalizeFingerprint } from './trust-store.js';

/**
 * How the agent decides to trust a BMC's HTTPS endpoint. Exactly one policy
 * per BMC; the default for https is trust on first use. The check runs in
 * the connector, before any request (and so any credential) is sent.
 */
export type TlsPolicy =
  | { kind: 'ca'; caPem: string }
  | { kind: 'pinned'; fingerprint256: string }
  | { kind: 'trust-on-first-use'; store: CertificateTrustStore; serverId: string }
  | { kind: 'insecure' };

export interface TlsSettings {
  /** PEM CA bundle: the chain must verify against it (and the host name match). */
  caFile?: string;
  /** SHA-256 of the BMC's certificate (hex, colons allowed). */
  fingerprint256?: string;
  /** Explicitly accept any certificate. Logged as a warning on every connect. */
  insecure?: boolean;
}

export function tlsPolicyOf(settings: TlsSettings | undefined, store: CertificateTrustStore | undefined, serverId: string): TlsPolicy {
  if (settings?.caFile) return { kind: 'ca', caPem: readFileSync(settings.caFile, 'utf8') };
  if (settings?.fingerprint256) return { kind: 'pinned', fingerprint256: normalizeFingerprint(settings.fingerprint256) };
  if (settings?.insecure) return { kind: 'insecure' };
  if (!store) throw new LightsoutError('CONFIG_INVALID', `server ${serverId}: https needs a CA file, a pinned fingerprint or a state directory for trust on first use`);
  return { kind: 'trust-on-first-use', store, serverId };
}

export interface DispatcherOptions {
  policy: TlsPolicy;
  connectTimeoutMs: number;
  onInsecure?: (peer: string) => void;
  onRecorded?: (fingerprint: string) => void;
}

/** An undici dispatcher whose every TLS connection is checked against the policy. */
export function createBmcDispatcher(options: DispatcherOptions): Agent {
  const { policy } = options;
  const connect = buildConnector({
    timeout: options.connectTimeoutMs,
    // a resumed TLS session carries no peer certificate to check: always do a full handshake
    maxCachedSessions: 0,
    rejectUnauthorized: policy.kind === 'ca',
    ...(policy.kind === 'ca' ? { ca: policy.caPem } : {}),
  });
  return new Agent({
    connections: 4,
    connect: (connectOptions, callback) => {
      connect(connectOptions, (error, socket) => {
        if (error || !socket) return callback(error ?? new Error('no socket'), null);
        if (connectOptions.protocol !== 'https:') return callback(null, socket);
        const verdict = verifyPeer(socket as TLSSocket, options);
        if (verdict) {
          socket.destroy();
          return callback(verdict, null);
        }
        callback(null, socket);
      });
    },
  });
}

/**
 * The same check for Node's https/WebSocket clients (the BMC's serial console
 * WebSocket, `wss://…/console0`): the agent hands the HTTP client a socket
 * only after the peer's certificate passed the policy, so the upgrade request
 * (and the Basic credentials in it) never reaches a BMC that fails it.
 */
export function createBmcHttpsAgent(options: DispatcherOptions): HttpsAgent {
  return new BmcHttpsAgent(options);
}

class BmcHttpsAgent extends HttpsAgent {
  constructor(private readonly trust: DispatcherOptions) {
    // a resumed TLS session carries no peer certificate to check: always do a full handshake
    super({ maxCachedSessions: 0, keepAlive: false } satisfies HttpsAgentOptions);
  }

  // Node's http Agent waits for the callback when createConnection returns nothing (_http_agent.js createSocket).
  override createConnection(connectOptions: RequestOptions, callback?: (error: Error | null, socket: Duplex) => void): Duplex | undefined {
    const { policy } = this.trust;
    // The https Agent hands its TLS options (host, port, servername, ALPN) through here.
    const socket = tlsConnect({
      ...(connectOptions as ConnectionOptions),
      rejectUnauthorized: policy.kind === 'ca',
      ...(policy.kind === 'ca' ? { ca: policy.caPem } : {}),
      timeout: this.trust.connectTimeoutMs,
    });
    const fail = (error: Error) => {
      socket.destroy();
      callback?.(error, socket);
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      socket.off('error', fail);
      const verdict = verifyPeer(socket, this.trust);
      if (verdict) return fail(verdict);
      callback?.(null, socket);
    });
    return undefined;
  }
}

/**
 * A bare TLS connection to a BMC, checked against the same policy before it
 * is handed out: the web UI's connections (plain HTTP from the relay flows
 * through it), so not one byte of a request reaches a BMC that fails it.
 */
export function connectBmcTls(options: DispatcherOptions, target: { host: string; port: number }): Promise<TLSSocket> {
  const { policy } = options;
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: target.host,
      port: target.port,
      // SNI carries names only (RFC 6066 §3), never an address literal.
      ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
      // HTTP/1.1 only: the relay's side speaks it, and a BMC that chose h2 would not understand the bytes.
      ALPNProtocols: ['http/1.1'],
      rejectUnauthorized: policy.kind === 'ca',
      ...(policy.kind === 'ca' ? { ca: policy.caPem } : {}),
    });
    const timer = setTimeout(() => socket.destroy(new LightsoutError('BMC_UNREACHABLE', `no TLS handshake with ${target.host}:${target.port} within ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error instanceof LightsoutError ? error : new LightsoutError('BMC_UNREACHABLE', `cannot open TLS to ${target.host}:${target.port}: ${error.message}`));
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      const verdict = verifyPeer(socket, options);
      if (verdict) return fail(verdict);
      resolve(socket);
    });
  });
}

function verifyPeer(socket: TLSSocket, options: DispatcherOptions): LightsoutError | undefined {
  const { policy } = options;
  if (policy.kind === 'ca') return undefined; // verified by OpenSSL against the CA, host name included
  const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
  if (policy.kind === 'insecure') {
    options.onInsecure?.(peer);
    return undefined;
  }
  const certificate = socket.getPeerCertificate();
  if (!certificate?.raw) return new LightsoutError('BMC_PROTOCOL_ERROR', `BMC ${peer} presented no certificate`);
  const fingerprint = createHash('sha256').update(certificate.raw).digest('hex');
  if (policy.kind === 'pinned') {
    return fingerprint === policy.fingerprint256 ? undefined : mismatch(peer, policy.fingerprint256, fingerprint);
  }
  const verdict = policy.store.check(policy.serverId, fingerprint);
  if (verdict === 'recorded') options.onRecorded?.(fingerprint);
  if (verdict === 'mismatch') return mismatch(peer, policy.store.read(policy.serverId) ?? '', fingerprint, policy.store.fileOf(policy.serverId));
  return undefined;
}

function mismatch(peer: string, expected: string, actual: string, trustFile?: string): LightsoutError {
  return new LightsoutError('BMC_CERT_MISMATCH', `BMC ${peer} presented a certificate that differs from the trusted one`, {
    hint: trustFile
      ? `If the BMC was re-keyed on purpose, verify the new fingerprint out of band and delete ${trustFile}.`
      : 'If the BMC was re-keyed on purpose, update the pinned fingerprint in the agent configuration.',
    details: { expected, actual },
  });
}
