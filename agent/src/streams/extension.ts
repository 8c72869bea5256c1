import { join } from 'node:path';
import { LightsoutError, StreamCloseCode, StreamKind, StreamMode, StreamTiming, type RequestMessage, type StreamOpenParams, type StreamOpenResult } from '@lightsout/shared';
import Type from 'typebox';
import { Value } from 'typebox/value';
import type { AgentContext, AgentExtension, AgentExtensionFactory } from '../agent.js';
import type { ServerEntry } from '../config/types.js';
import { BMC_TRUST_DIRECTORY } from '../bmc-tls/index.js';
import { ConsoleGroup, consoleScrollbackBytes } from './console-group.js';
import { pinnedLookup } from '../control/relay-endpoints.js';
import { DIAL_BACK_CONCURRENCY, dialBack, dialUrlOf } from './dial-back.js';
import { Slots } from '../slots.js';
import { createPortOpener } from './ports/open.js';
import { StallWatch } from './stall-watch.js';
import type { ConsolePortOpener } from './ports/types.js';
import { StreamSession } from './session.js';

const StreamOpenSchema = Type.Object({
  sessionId: Type.String({ minLength: 16, maxLength: 64 }),
  legId: Type.String({ minLength: 8, maxLength: 64 }),
  serverId: Type.String({ minLength: 1, maxLength: 63 }),
  tenant: Type.String({ minLength: 1, maxLength: 63 }),
  kind: StreamKind,
  mode: StreamMode,
  subject: Type.String({ maxLength: 255 }),
  user: Type.String({ maxLength: 255 }),
  resume: Type.Boolean(),
  dialPath: Type.String({ maxLength: 512 }),
  takeover: Type.Optional(Type.Boolean()),
});
const StreamCloseSchema = Type.Object({ sessionId: Type.String({ maxLength: 64 }) });
const ServerAssignSchema = Type.Object({ serverId: Type.String({ minLength: 1, maxLength: 63 }), tenant: Type.String({ minLength: 1, maxLength: 63 }) });

export interface StreamsExtensionOptions {
  openPort?: ConsolePortOpener;
  graceMs?: number;
  windowBytes?: number;
  /** Dial-backs in their handshake at once (DIAL_BACK_CONCURRENCY). */
  dialBackConcurrency?: number;
}

/** The agent's stream plane, the `stream.open` / `stream.close` control ops (docs/streams.md). */
export class AgentStreams implements AgentExtension {
  private readonly sessions = new Map<string, StreamSession>();
  private readonly groups = new Map<string, Promise<ConsoleGroup>>();
  private readonly openPort: ConsolePortOpener;
  private readonly graceMs: number;
  private readonly dialBacks: Slots;
  private readonly stopListening: () => void;
  /** Input that waited through a freeze of this process is discarded, not run late (stall-watch.ts). */
  private readonly stall = new StallWatch({ staleAfterMs: StreamTiming.staleInputMs });
  readonly handlers: AgentExtension['handlers'];

  constructor(
    private readonly context: AgentContext,
    private readonly options: StreamsExtensionOptions = {},
  ) {
    this.openPort = options.openPort ?? createPortOpener(context.registry, join(context.config.stateDir, BMC_TRUST_DIRECTORY));
    this.graceMs = options.graceMs ?? StreamTiming.graceMs;
    this.dialBacks = new Slots(options.dialBackConcurrency ?? DIAL_BACK_CONCURRENCY);
    this.stall.start();
    this.handlers = {
      // Unfinished at its deadline, a stream.open waits on the agent's own work: a resume has no BMC side at all
      // (only the dial-back, which a gateway taking over hundreds of consoles at once can hold up), and a new
      // console's BMC side reports its own BMC_TIMEOUT or BMC_UNREACHABLE within the budget (SOL activation,
      // RFB handshake, TCP connect). AGENT_TIMEOUT closes the client's leg with 4503, which it resumes from;
      // BMC_TIMEOUT closed it for good (4502) while the session was still in its grace period.
      'stream.open': Object.assign((params: Record<string, unknown>, _request: RequestMessage, settled: AbortSignal) => this.open(params, settled), { timeoutCode: 'AGENT_TIMEOUT' as const }),
      'stream.close': async (params) => {
        if (!Value.Check(StreamCloseSchema, params)) throw new LightsoutError('BAD_REQUEST', 'invalid params for stream.close');
        this.sessions.get(params.sessionId)?.end(StreamCloseCode.ENDED, 'closed by the relay');
        return {};
      },
      'server.assign': async (params) => {
        if (!Value.Check(ServerAssignSchema, params)) throw new LightsoutError('BAD_REQUEST', 'invalid params for server.assign');
        const sessionsEnded = this.endOtherTenants(params.serverId, params.tenant);
        if (!context.tenants.assign(params.serverId, params.tenant)) throw new LightsoutError('NOT_FOUND', `this agent has no server ${params.serverId}`);
        return { sessionsEnded };
      },
    };
    this.stopListening = context.tenants.onAssigned((serverId, tenant) => this.endOtherTenants(serverId, tenant));
  }

  /**
   * The server moved to `tenant`: every session of another tenant on it
   * ends for good (no grace, no resume). Once the last member has left, the
   * shared console closes with its scrollback, so nothing of the old
   * tenant's screen reaches the new tenant's first viewer.
   */
  private endOtherTenants(serverId: string, tenant: string): number {
    let ended = 0;
    for (const session of [...this.sessions.values()]) {
      if (session.info.serverId !== serverId || session.info.tenant === tenant) continue;
      session.end(StreamCloseCode.FORBIDDEN, 'the server moved to another tenant');
      ended += 1;
    }
    if (ended > 0) this.context.logger.info({ serverId, tenant, ended }, 'console sessions of the previous tenant ended');
    return ended;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  hasSession(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  /** `settled`: aborts when the relay's request is answered, at its deadline at the latest (the dispatcher's). */
  private async open(raw: Record<string, unknown>, settled: AbortSignal): Promise<StreamOpenResult> {
    if (!Value.Check(StreamOpenSchema, raw)) throw new LightsoutError('BAD_REQUEST', 'invalid params for stream.open');
    const params = raw as unknown as StreamOpenParams;
    const server = this.context.config.servers.find((entry) => entry.id === params.serverId);
    if (!server) throw new LightsoutError('NOT_FOUND', `this agent has no server ${params.serverId}`);
    // The relay checked the tenant when it issued the token; the agent checks again with what it was told last.
    if (this.context.tenants.tenantOf(server.id) !== params.tenant) throw new LightsoutError('FORBIDDEN', `server ${params.serverId} is not in tenant ${params.tenant}`);

    let session = this.sessions.get(params.sessionId);
    let tookOver = false;
    if (session) {
      const { info } = session;
      if (info.serverId !== params.serverId || info.kind !== params.kind || info.tenant !== params.tenant || info.subject !== params.subject) {
        throw new LightsoutError('FORBIDDEN', 'this session belongs to someone else');
      }
    } else {
      if (params.resume) throw new LightsoutError('NOT_FOUND', 'the session is over (grace period expired or closed)', { hint: 'open a new session' });
      ({ session, tookOver } = await this.createSession(server, params));
      // The user left (stream.close) while the BMC side was opening: nothing to dial back for.
      if (session.isEnded) throw new LightsoutError('NOT_FOUND', 'the session ended while its console was opening (the user left)');
    }
    // The relay that asked holds the session's pending leg: dial back to that one (the same address when its name has several).
    const relay = this.context.relay();
    // A dial-back still waiting its turn when the relay stops waiting for it leaves the queue: dialled late, it
    // would find the relay's leg gone and cost a turn the dial-backs still awaited need, while a failover's
    // retries queued behind it (each retry one more) until none was in time. The dispatcher has answered the
    // relay by then (AGENT_TIMEOUT at the deadline), so the queue's rejection goes to nobody.
    const socket = await this.dialBacks.run(async () => dialBack(dialUrlOf(relay.url, params.dialPath), await this.context.signJwt(), { lookup: pinnedLookup(relay) }), settled);
    session.attach(socket);
    return tookOver ? { tookOver } : {};
  }

  /** `tookOver`: opening its console ended another BMC session's hold on SOL (asked for with `takeover`). */
  private async createSession(server: ServerEntry, params: StreamOpenParams): Promise<{ session: StreamSession; tookOver: boolean }> {
    const session = new StreamSession(
      { sessionId: params.sessionId, serverId: server.id, tenant: params.tenant, kind: params.kind, mode: params.mode, subject: params.subject, user: params.user },
      {
        graceMs: this.graceMs,
        logger: this.context.logger,
        stall: this.stall,
        ...(this.options.windowBytes === undefined ? {} : { windowBytes: this.options.windowBytes }),
        onEnd: (ended) => {
          if (this.sessions.get(ended.info.sessionId) === ended) this.sessions.delete(ended.info.sessionId);
          this.context.metrics.openSessions.dec({ kind: ended.info.kind });
        },
      },
    );
    this.sessions.set(params.sessionId, session);
    this.context.metrics.openSessions.inc({ kind: params.kind });
    let opened: { group: ConsoleGroup; tookOver: boolean };
    try {
      opened = await this.groupFor(server, params);
      if (session.isEnded) {
        // Left before it attached: a console nobody else joined meanwhile is let go now (SOL deactivated),
        // after the sessions waiting on the same open have joined it (their continuations run first).
        const { group } = opened;
        setImmediate(() => group.closeIfUnused());
        return { session, tookOver: opened.tookOver };
      }
      session.group = opened.group;
      opened.group.join(session);
    } catch (error) {
      session.end(StreamCloseCode.ENDED, 'could not open the BMC side');
      throw error;
    }
    if (opened.tookOver) this.context.logger.warn({ sessionId: params.sessionId, serverId: server.id, user: params.user }, 'SOL was held by another BMC session: deactivated it and took SOL over, as the user asked');
    this.context.logger.info({ sessionId: params.sessionId, serverId: server.id, kind: params.kind, user: params.user }, 'console session opened');
    return { session, tookOver: opened.tookOver };
  }

  /**
   * SOL and serial consoles are shared per server; VNC gets its own BMC connection per session.
   * `tookOver` is true for the session whose open of the port ended another holder (a session
   * joining a console already open took nothing over).
   */
  private async groupFor(server: ServerEntry, params: StreamOpenParams): Promise<{ group: ConsoleGroup; tookOver: boolean }> {
    // A VNC client needs its own RFB conversation, and a web UI stream is one HTTP connection of its own.
    const key = params.kind === 'vnc' || params.kind === 'web' ? `${server.id}/${params.kind}/${params.sessionId}` : `${server.id}/${params.kind}`;
    const existing = this.groups.get(key);
    if (existing) return { group: await existing, tookOver: false };
    let group: ConsoleGroup | undefined;
    // A port may deliver data (even close) before its promise settles into a group: a BMC's first
    // frames often share a TCP segment with its handshake reply. Kept in order and replayed.
    const early: Uint8Array[] = [];
    let closedEarly: string | undefined;
    let tookOver = false;
    const opening = this.openPort(server, params.kind, {
      data: (bytes) => (group ? group.output(bytes) : void early.push(bytes)),
      drain: () => group?.onPortDrain(),
      close: (reason) => (group ? group.portClosed(reason) : (closedEarly ??= reason)),
    }, { takeover: params.takeover === true }).then((port) => {
      tookOver = port.tookOver === true;
      group = new ConsoleGroup(
        key,
        port,
        () => {
          if (this.groups.get(key) === opening) this.groups.delete(key);
        },
        { scrollbackBytes: params.kind === 'vnc' || params.kind === 'web' ? 0 : consoleScrollbackBytes },
      );
      for (const bytes of early.splice(0)) group.output(bytes);
      if (closedEarly !== undefined) group.portClosed(closedEarly);
      return group;
    });
    this.groups.set(key, opening);
    opening.catch(() => {
      if (this.groups.get(key) === opening) this.groups.delete(key);
    });
    return { group: await opening, tookOver };
  }

  /** Sever every data connection (they resume); used when the relay link is known to be broken, and by tests. */
  severLegs(): void {
    for (const session of this.sessions.values()) session.severLeg();
  }

  async stop(): Promise<void> {
    this.stopListening();
    this.stall.stop();
    for (const session of [...this.sessions.values()]) session.end(1001, 'agent stopping');
    await Promise.allSettled([...this.groups.values()].map(async (group) => (await group).close()));
    this.groups.clear();
  }
}

export function createStreamsExtension(options: StreamsExtensionOptions = {}): AgentExtensionFactory {
  return (context: AgentContext) => new AgentStreams(context, options);
}
