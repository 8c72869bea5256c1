import { randomBytes } from 'node:crypto';
import { type JWK, SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { LightsoutError, StreamTiming, StreamTokenClaims, type StreamKind, type StreamMode } from '@lightsout/shared';
import { Compile } from 'typebox/compile';
import type { KeyDocuments } from '../../access/key-documents.js';
import { SigningKeyRing } from '../../access/signing-keys.js';
import { VerifiedTokens } from './verified-tokens.js';

/** The ring's name in the store. */
const RING = 'stream';
/** Where a single-process install kept the ring before the store did (imported once, then removed)… */
const KEYS_FILE = 'stream-signing-keys.json';
/** … and, before key rotation, its one private JWK. */
const KEY_FILE = 'stream-signing-key.json';
const claimsValidator = Compile(StreamTokenClaims);
/** Seconds a token's iat/exp may be off the relay's clock. */
const STREAM_TOKEN_CLOCK_TOLERANCE_SECONDS = 5;

export interface StreamGrant {
  sessionId: string;
  serverId: string;
  tenant: string;
  kind: StreamKind;
  mode: StreamMode;
  agentId: string;
  subject: string;
  user: string;
  /** Connect tokens only: the session may end another holder of the BMC's SOL (SessionCreate.takeover). */
  takeover?: boolean;
  /** Web tokens: when the web session ends (epoch seconds). */
  webSessionEnd?: number;
  /** When the session was granted (epoch seconds; the `gat` claim): absent for a new session, whose first token's `iat` it is. */
  grantedAt?: number;
}

/** When the session a token belongs to was granted, in ms: what a revocation is compared with. */
export function grantedAtMs(claims: StreamTokenClaims): number {
  return (claims.gat ?? claims.iat) * 1000;
}

/** The grant a token was signed for: what its session's next tokens (a resume token, another leg, a cookie) are signed with. */
export function grantOf(claims: StreamTokenClaims): StreamGrant {
  return {
    sessionId: claims.sid,
    serverId: claims.srv,
    tenant: claims.ten,
    kind: claims.knd,
    mode: claims.mod,
    agentId: claims.agt,
    subject: claims.sub,
    user: claims.usr,
    grantedAt: claims.gat ?? claims.iat,
    ...(claims.wxp === undefined ? {} : { webSessionEnd: claims.wxp }),
  };
}

/**
 * Stream tokens: EdDSA JWTs (RFC 8037) signed by the deployment's stream key,
 * kept in the store so a restarted relay, and every other replica, accepts
 * the tokens issued before — that is what lets a client resume after a relay
 * kill -9, on any gateway. A gateway verifies them by signature alone. That a connect token
 * is used once is the gateway's business, not the token's: it spends the jti
 * in the store when the connection is accepted (`spendConnectToken`).
 */
export class StreamTokens {
  /** Tokens verified here before: a resume token is asked the route with and resumed with, hundreds at once after a failover. */
  private readonly verified: VerifiedTokens<unknown>;

  private constructor(
    /** Rotating EdDSA keys: the newest signs, retired ones verify through an overlap window. */
    private readonly keys: SigningKeyRing,
    readonly issuer: string,
    readonly audience: string,
    private readonly now: () => number,
    /** `aud` of a web session's launch token and cookie: never the gateway's, so neither opens a stream. */
    readonly webAudience: string,
  ) {
    this.verified = new VerifiedTokens(now, (kid) => keys.verifies(kid));
  }

  static async load(options: {
    documents: KeyDocuments;
    /** A single-process install's dataDir, whose key files are imported into the store on the first start. */
    dataDir?: string;
    issuer: string;
    audience: string;
    now?: () => number;
    rotateAfterSeconds?: number;
    overlapSeconds?: number;
  }): Promise<StreamTokens> {
    const now = options.now ?? (() => Date.now());
    const keys = await SigningKeyRing.load({
      documents: options.documents,
      name: RING,
      ...(options.dataDir === undefined ? {} : { legacy: { dataDir: options.dataDir, file: KEYS_FILE, singleKeyFile: KEY_FILE } }),
      rotateAfterSeconds: options.rotateAfterSeconds ?? 7 * 86_400,
      // Longer than any stream token lives, and than a gateway caches the JWKS.
      overlapSeconds: options.overlapSeconds ?? 3600,
      now,
    });
    return new StreamTokens(keys, options.issuer, options.audience, now, `${options.issuer.replace(/\/+$/, '')}/v1/web`);
  }

  /** For gateways that verify by signature alone: the current key and those still in their overlap window. */
  get jwks(): { keys: JWK[] } {
    return this.keys.publicJwks();
  }

  /** Sign with a new key from now on; tokens signed with the old one verify until the overlap window ends. */
  rotateKey(): Promise<void> {
    return this.keys.rotate();
  }

  /** Pick up another replica's rotation every `intervalMs` (a kid not seen yet is looked up at once anyway). */
  refreshKeysEvery(intervalMs: number, onError: (error: unknown) => void): () => void {
    return this.keys.refreshEvery(intervalMs, onError);
  }

  async issue(grant: StreamGrant, use: 'connect' | 'resume'): Promise<{ token: string; expiresAt: number }> {
    const ttl = use === 'connect' ? StreamTiming.connectTokenTtlSeconds : StreamTiming.resumeTokenTtlSeconds;
    return this.sign(grant, use, this.audience, Math.floor(this.now() / 1000) + ttl);
  }

  /**
   * A web session's tokens (docs/security.md, "The BMC's web UI"): the
   * one-time launch token in its launch URL (`web-launch`, 60 s) and the
   * cookie of its own origin (`web`, until `expiresAt`, the user's session's end).
   */
  async issueWeb(grant: StreamGrant, use: 'web-launch' | 'web', expiresAt?: number): Promise<{ token: string; expiresAt: number }> {
    return this.sign(grant, use, this.webAudience, expiresAt ?? Math.floor(this.now() / 1000) + StreamTiming.connectTokenTtlSeconds);
  }

  private async sign(grant: StreamGrant, use: StreamTokenClaims['use'], audience: string, expiresAt: number): Promise<{ token: string; expiresAt: number }> {
    const issuedAt = Math.floor(this.now() / 1000);
    const token = await new SignJWT({
      use,
      sid: grant.sessionId,
      srv: grant.serverId,
      ten: grant.tenant,
      knd: grant.kind,
      mod: grant.mode,
      agt: grant.agentId,
      usr: grant.user,
      // A resume finds the session's console open: only the first leg's open may take the SOL over.
      ...(grant.takeover === true && use === 'connect' ? { tko: true } : {}),
      ...(grant.webSessionEnd !== undefined && (use === 'web-launch' || use === 'web') ? { wxp: grant.webSessionEnd } : {}),
      gat: grant.grantedAt ?? issuedAt,
    })
      .setProtectedHeader({ alg: 'EdDSA', kid: this.keys.current.kid, typ: 'lightsout-stream+jwt' })
      .setIssuer(this.issuer)
      .setAudience(audience)
      .setSubject(grant.subject)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .setJti(randomBytes(12).toString('base64url'))
      .sign(this.keys.current.privateKey);
    return { token, expiresAt };
  }

  /** Check signature, algorithm, issuer, audience, expiry, claim shapes and the session id. */
  async verify(token: string, sessionId: string): Promise<StreamTokenClaims> {
    const claims = await this.verifyFor(token, sessionId, this.audience);
    // Another audience already fails above; a web token is refused by its use as well.
    if (claims.use !== 'connect' && claims.use !== 'resume') throw new LightsoutError('TOKEN_INVALID', 'not a stream token');
    return claims;
  }

  /** A web session's launch token or cookie, for that session and that use only. */
  async verifyWeb(token: string, sessionId: string, use: 'web-launch' | 'web'): Promise<StreamTokenClaims> {
    const claims = await this.verifyFor(token, sessionId, this.webAudience);
    if (claims.use !== use || claims.knd !== 'web') throw new LightsoutError('TOKEN_INVALID', `not a web ${use === 'web' ? 'session cookie' : 'launch token'}`);
    return claims;
  }

  private async verifyFor(token: string, sessionId: string, audience: string): Promise<StreamTokenClaims> {
    if (token.length > 4096) throw new LightsoutError('TOKEN_INVALID', 'stream token too long');
    let payload = this.verified.get(token, audience);
    if (payload === undefined) payload = await this.verifySignature(token, audience);
    if (!claimsValidator.Check(payload)) throw new LightsoutError('TOKEN_INVALID', 'stream token claims are malformed');
    const claims = payload as StreamTokenClaims;
    if (claims.sid !== sessionId) throw new LightsoutError('FORBIDDEN', 'stream token is for another session');
    return claims;
  }

  /** Signature, algorithm, issuer, audience and expiry (jose), remembered for the next use of the same token. */
  private async verifySignature(token: string, audience: string): Promise<unknown> {
    try {
      const { payload, protectedHeader } = await jwtVerify(token, (header) => this.keys.verificationKey(header.kid), {
        algorithms: ['EdDSA'],
        issuer: this.issuer,
        audience,
        typ: 'lightsout-stream+jwt',
        currentDate: new Date(this.now()),
        clockTolerance: STREAM_TOKEN_CLOCK_TOLERANCE_SECONDS,
      });
      // Remembered until it expires; one without exp (the claims check refuses it below) is not remembered.
      if (typeof payload.exp === 'number') this.verified.remember(token, audience, payload, protectedHeader.kid, (payload.exp + STREAM_TOKEN_CLOCK_TOLERANCE_SECONDS) * 1000);
      return payload;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new LightsoutError('TOKEN_EXPIRED', 'stream token expired', { hint: 'create a new session' });
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'aud') {
        throw new LightsoutError('TOKEN_AUDIENCE', 'stream token is for another gateway');
      }
      throw new LightsoutError('TOKEN_INVALID', 'stream token is not valid');
    }
  }
}

/** What the gateway needs to accept each connect token once (relay/src/access/single-use.ts). */
export interface SingleUseTokens {
  /** True the first time (`scope`, `jti`) is spent, false for a replay. */
  spend(scope: string, jti: string, acceptableUntilMs: number): Promise<boolean>;
  /** Give a spent token back. */
  refund(scope: string, jti: string): Promise<void>;
}

const CONNECT_SCOPE = 'stream-connect';

/** A connect token opens one leg, once; resume tokens may be used again until they expire. */
export async function spendConnectToken(ledger: SingleUseTokens, claims: StreamTokenClaims): Promise<void> {
  if (claims.use !== 'connect' && claims.use !== 'web-launch') return;
  if (!(await ledger.spend(CONNECT_SCOPE, claims.jti, (claims.exp + STREAM_TOKEN_CLOCK_TOLERANCE_SECONDS) * 1000))) {
    throw new LightsoutError('TOKEN_INVALID', 'stream connect token was already used', { hint: 'create a new session' });
  }
}

/**
 * A connect attempt failed before the session was spliced (agent offline,
 * dial-back timeout): let the same token retry, or a client that never got
 * a resume token would be locked out of its own session.
 */
export async function refundConnectToken(ledger: SingleUseTokens, claims: StreamTokenClaims): Promise<void> {
  if (claims.use === 'connect') await ledger.refund(CONNECT_SCOPE, claims.jti);
}
