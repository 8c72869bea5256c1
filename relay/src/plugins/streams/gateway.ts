import { type ErrorCode, LightsoutError, StreamCloseCode, isBmcFailure, type StreamKind, StreamTiming, type StreamTokenClaims, encodeStreamMessage, type StreamOpenParams, type StreamOpenResult, type TokenMessage } from '@lightsout/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import type { StreamDependencies } from './dependencies.js';
import type { PendingLegs } from './legs.js';
import { type HeldMessages, type Splice, closeQuietly, hold, sendQuietly, splice } from './splice.js';
import { type StreamTokens, grantOf, grantedAtMs, refundConnectToken } from './tokens.js';

/** Which close code tells the client what to do about an error (resume or give up). */
export function closeCodeFor(code: ErrorCode): number {
  if (isBmcFailure(code)) return StreamCloseCode.BMC_UNREACHABLE;
  switch (code) {
    case 'AGENT_OFFLINE':
    case 'AGENT_TIMEOUT':
      return StreamCloseCode.AGENT_OFFLINE;
    case 'NOT_FOUND':
      return StreamCloseCode.NOT_FOUND;
    case 'FORBIDDEN':
    case 'DATACENTER_MISMATCH':
      return StreamCloseCode.FORBIDDEN;
    case 'CONFLICT':
      return StreamCloseCode.ENDED;
    default:
      return 1011;
  }
}

/** What an observer (the recorder) sees of one leg. */
export interface LegHooks {
  downstream?(bytes: Buffer): void;
  upstreamControl?(text: string): void;
  end?(): void;
}

export interface GatewayHooks {
  /** A leg is spliced; returns what to call as its bytes pass, or nothing. */
  onSpliced?(claims: StreamTokenClaims): LegHooks | undefined;
  /** The agent, opening this session, deactivated SOL that another BMC session held (asked for with `takeover`). */
  onTookOver?(claims: StreamTokenClaims): void;
  /** Bytes a leg forwards, by direction, summed per tick (metrics). */
  onForwarded?(direction: 'to_client' | 'to_agent', bytes: number): void;
  /** Whether someone other than `subject` has a console leg on the server at another replica (the cluster's console holders). */
  othersLiveElsewhere?(serverId: string, subject: string): boolean;
}

/** Who holds a live leg, and on what. */
interface Holder {
  subject: string;
  serverId: string;
  tenant: string;
  kind: StreamKind;
  issuedAtMs: number;
  agentId: string;
}

/**
 * The gateway half of the stream plane: turns an authenticated client
 * WebSocket into a spliced leg by asking the session's agent to dial back.
 * Holds no session state beyond the live legs, so a restarted relay serves a
 * resuming client as if nothing happened.
 */
export class StreamGateway {
  private readonly live = new Set<Splice>();
  /** Who holds each live leg (token `sub`, for which tenant, since when) on which server, through which agent: a revocation ends theirs; step-up asks who is there; the agent's presence is told to them. */
  private readonly holders = new Map<Splice, Holder>();

  constructor(
    private readonly tokens: StreamTokens,
    private readonly legs: PendingLegs,
    private readonly dependencies: StreamDependencies,
    private readonly log: FastifyBaseLogger,
    private readonly hooks: GatewayHooks = {},
  ) {}

  private refund(claims: StreamTokenClaims): void {
    refundConnectToken(this.dependencies.singleUse, claims).catch((error: unknown) => this.log.warn({ err: error, sessionId: claims.sid }, 'could not refund a connect token: the client must create a new session'));
  }

  get liveLegs(): number {
    return this.live.size;
  }

  async attachClient(client: WebSocket, claims: StreamTokenClaims): Promise<void> {
    // The agent dials back to the relay its control connection is on: a leg can be spliced only there.
    // A client at another gateway is sent away with 4503 and asks the route where the agent is now.
    if ((this.dependencies.agentConnectedHere ?? this.dependencies.agentOnline)?.(claims.agt) === false) {
      this.refund(claims);
      sendQuietly(client, encodeStreamMessage({ type: 'error', code: 'AGENT_OFFLINE', message: 'the agent is not connected to this gateway' }));
      closeQuietly(client, StreamCloseCode.AGENT_OFFLINE, 'AGENT_OFFLINE');
      return;
    }
    // What the client sends before the agent's side is there is held (a bounded number of messages).
    // The socket keeps being read: paused, it would not see the client's close frame, and a user who
    // leaves (`~.`) before the splice would hold the BMC console until the session's grace period ends.
    const earlyClient = hold(client);
    const pending = this.legs.expect(claims.agt, claims.sid, StreamTiming.dialBackTimeoutMs);
    let clientGone = false;
    let leftCode: number | undefined;
    const onEarlyClose = (code: number) => {
      clientGone = true;
      leftCode = code;
      pending.cancel();
      // 1000: the user left (`~.`) before the leg was spliced. The agent is told now, so the BMC
      // console is released at once instead of when the session's grace period runs out.
      if (code === 1000) this.tellAgentLeft(claims);
    };
    client.once('close', onEarlyClose);
    const params: StreamOpenParams = {
      sessionId: claims.sid,
      legId: pending.legId,
      serverId: claims.srv,
      tenant: claims.ten,
      kind: claims.knd,
      mode: claims.mod,
      subject: claims.sub,
      user: claims.usr,
      resume: claims.use === 'resume',
      dialPath: `/v1/agent/streams/${claims.sid}?leg=${pending.legId}`,
      ...(claims.tko === true && claims.use === 'connect' ? { takeover: true } : {}),
    };
    // Signed while the agent dials back, so the client's first resume token costs the leg no time.
    const firstResume = this.issueResume(claims);
    let agent: WebSocket;
    let earlyAgent: HeldMessages;
    let resume: TokenMessage | undefined;
    let opened: StreamOpenResult;
    try {
      [opened, { socket: agent, early: earlyAgent }, resume] = await Promise.all([
        this.dependencies.requestAgent(claims.agt, 'stream.open', params, StreamTiming.dialBackTimeoutMs),
        pending.socket,
        firstResume,
      ]);
    } catch (error) {
      pending.cancel();
      this.refund(claims);
      client.off('close', onEarlyClose);
      const failure = error instanceof LightsoutError ? error : new LightsoutError('INTERNAL', 'could not open the stream');
      if (!(error instanceof LightsoutError)) this.log.error({ err: error, sessionId: claims.sid }, 'stream open failed');
      sendQuietly(client, encodeStreamMessage({ type: 'error', code: failure.code, message: failure.message.slice(0, 500) }));
      closeQuietly(client, closeCodeFor(failure.code), failure.code);
      return;
    }
    client.off('close', onEarlyClose);
    // Observed at the agent, so it is reported whether or not the client is still there to use the console.
    if (opened.tookOver === true) this.hooks.onTookOver?.(claims);
    if (clientGone || client.readyState !== client.OPEN) {
      this.refund(claims);
      closeQuietly(agent, leftCode === 1000 ? 1000 : StreamCloseCode.RESUME, 'client left');
      return;
    }
    this.spliceLeg(client, agent, claims, { client: earlyClient, agent: earlyAgent }, resume);
  }

  /** `stream.close` for a session whose user left before its leg was spliced (sent after `stream.open`, on the same control channel). */
  private tellAgentLeft(claims: StreamTokenClaims): void {
    this.dependencies.requestAgent(claims.agt, 'stream.close', { sessionId: claims.sid }, StreamTiming.dialBackTimeoutMs).catch((error: unknown) => this.log.debug({ err: error, sessionId: claims.sid }, 'could not tell the agent that the user left'));
  }

  /** A resume token for the leg's session as the message that carries it; undefined if signing failed (logged; the refresh retries). */
  private issueResume(claims: StreamTokenClaims): Promise<TokenMessage | undefined> {
    return this.tokens
      .issue(grantOf(claims), 'resume')
      .then(({ token, expiresAt }): TokenMessage => ({ type: 'token', token, expiresAt }))
      .catch((error: unknown) => {
        this.log.error({ err: error, sessionId: claims.sid }, 'could not issue a resume token');
        return undefined;
      });
  }

  private spliceLeg(client: WebSocket, agent: WebSocket, claims: StreamTokenClaims, early: { client: HeldMessages; agent: HeldMessages }, resume: TokenMessage | undefined): void {
    const timers: { refresh?: NodeJS.Timeout; ended: boolean } = { ended: false };
    // The connect token is spent: the client reconnects with resume tokens pushed down the leg. The first
    // goes out before any console byte, so a client that saw data always holds a way back (a relay killed
    // a moment after the splice must not strand it).
    if (resume) client.send(encodeStreamMessage(resume));
    const observer = this.hooks.onSpliced?.(claims);
    // Messages held while the agent dialled back are replayed inside splice(): one of them can end the
    // leg before splice() has returned, so onEnd reads the leg from here, set once splice() returned.
    const spliced: { leg?: Splice } = {};
    const leg = splice(
      client,
      agent,
      {
        ...(observer?.downstream ? { onDownstream: observer.downstream } : {}),
        ...(observer?.upstreamControl ? { onUpstreamControl: observer.upstreamControl } : {}),
        ...(this.hooks.onForwarded ? { onForwarded: this.hooks.onForwarded } : {}),
        onEnd: (code, reason) => {
          timers.ended = true;
          if (spliced.leg !== undefined) {
            this.live.delete(spliced.leg);
            this.holders.delete(spliced.leg);
          }
          clearInterval(timers.refresh);
          observer?.end?.();
          this.log.debug({ sessionId: claims.sid, code, reason }, 'stream leg ended');
        },
      },
      early,
    );
    spliced.leg = leg;
    if (timers.ended) return;
    this.live.add(leg);
    this.holders.set(leg, { subject: claims.sub, serverId: claims.srv, tenant: claims.ten, kind: claims.knd, issuedAtMs: grantedAtMs(claims), agentId: claims.agt });
    // The agent may have gone offline while the leg was being set up.
    if (this.dependencies.agentOnline?.(claims.agt) === false) leg.setPath(false);
    // Refreshed at half-life, while the leg lives.
    const pushToken = () => {
      void this.issueResume(claims).then((message) => {
        if (message && !timers.ended) leg.sendToClient(encodeStreamMessage(message));
      });
    };
    if (!resume) pushToken();
    timers.refresh = setInterval(pushToken, (StreamTiming.resumeTokenTtlSeconds * 1000) / 2);
    timers.refresh.unref();
  }

  /**
   * A user or service account was revoked: end every live leg they opened
   * with a token issued up to `revokedAt` (a notice heard again after a
   * reconnect leaves legs opened since with fresh credentials alone).
   */
  closeSubject(subject: string, reason: string, revokedAt = Number.POSITIVE_INFINITY): number {
    return this.closeWhere((holder) => holder.subject === subject && holder.issuedAtMs <= revokedAt, reason);
  }

  /** The server now belongs to `tenant`: every leg any other tenant holds on it ends (final close code, no resume). */
  closeServer(serverId: string, tenant: string, reason: string): number {
    return this.closeWhere((holder) => holder.serverId === serverId && holder.tenant !== tenant, reason);
  }

  private closeWhere(matches: (holder: Holder) => boolean, reason: string): number {
    let closed = 0;
    for (const [leg, holder] of [...this.holders]) {
      if (!matches(holder)) continue;
      leg.close(StreamCloseCode.FORBIDDEN, reason);
      closed += 1;
    }
    return closed;
  }

  /**
   * An agent's control connection came or went (heartbeat lapse, drop,
   * reconnect): every live leg of that agent tells its client whether the
   * path to the BMC is up, and drops input while it is not.
   */
  agentPresence(agentId: string, online: boolean): number {
    let told = 0;
    for (const [leg, holder] of this.holders) {
      if (holder.agentId !== agentId) continue;
      leg.setPath(online);
      told += 1;
    }
    return told;
  }

  /** The live legs here, as (tenant, kind) pairs: what the session metrics count. */
  liveSessions(): Array<{ tenant: string; kind: StreamKind }> {
    return [...this.holders.values()].map(({ tenant, kind }) => ({ tenant, kind }));
  }

  /** Whether someone other than `subject` has a live console leg on this server (joining with control could take it over). */
  othersLiveOn(serverId: string, subject: string): boolean {
    // A web UI's streams are nobody's console: they take nothing over and nobody takes them over.
    for (const holder of this.holders.values()) if (holder.serverId === serverId && holder.subject !== subject && holder.kind !== 'web') return true;
    // A manager splices nothing: the console may be live at a gateway, and joining it with control is still a takeover.
    return this.hooks.othersLiveElsewhere?.(serverId, subject) ?? false;
  }

  closeAll(): void {
    for (const leg of this.live) leg.close(1001, 'relay stopping');
    this.legs.clear();
  }
}
