import { LightsoutError } from '@lightsout/shared';
import { ScrollbackFile } from '../../streams/scrollback-file.js';
import { Scrollback, type ScrollbackStore } from '../../streams/scrollback.js';
import type { IpmiSession } from '../session/connect.js';
import { RmcpPlusSession } from '../session/rmcp-plus-session.js';
import type { SessionLogger } from '../session/core.js';
import { SOL_INPUT_HIGH_WATER_BYTES, SolSession, type SolEndReason, type SolTiming } from './sol-session.js';

export type SolHubEvent =
  | { type: 'active' }
  | { type: 'control'; holder: string | undefined; previous: string | undefined }
  | { type: 'status'; status: 'break-detected' | 'overrun' }
  | { type: 'ended'; reason: SolEndReason; detail: string };

export interface SolHubOptions {
  openSession: () => Promise<IpmiSession>;
  /** Output kept for late viewers; default 256 KiB. */
  ringBytes?: number;
  /**
   * Keep that output in a file in this directory (ScrollbackFile) rather than
   * in memory, so the agent's memory does not follow what its consoles print.
   * Without it (or when the file cannot be made) the output is held in a ring
   * that grows as it arrives (Scrollback).
   */
  scrollbackDirectory?: string;
  /** Keep SOL open while nobody watches (boot messages are never missed). */
  alwaysOn?: boolean;
  /** Activate Payload SOL behaviour bits 5:0 (quirk activatePayloadAux → 0x08); the protection bits follow the session. */
  auxiliary?: number;
  /** Stream SOL on the session's port whatever port Activate Payload names (quirk ignoreSolPort). */
  ignorePort?: boolean;
  timing?: Partial<SolTiming>;
  logger?: SessionLogger;
}

export interface SolAttachOptions {
  mode: 'control' | 'view';
  /** Privileged: if another session holds the BMC's SOL, deactivate it and take it. */
  takeover?: boolean;
}

/** One viewer's handle. Output and events go to the listeners given to `attach`. */
export interface SolViewer {
  readonly id: string;
  /** This attach deactivated another session's SOL (privileged takeover); that session's viewers are told by their hub. */
  readonly tookOver: boolean;
  /** Output from before this viewer attached (up to the scrollback's size). */
  readonly replay: Uint8Array;
  /**
   * The scrollback now: the replay and every byte this viewer was given
   * since, up to its size — what a console group hands a late member
   * without keeping a second copy.
   */
  scrollback(): Uint8Array;
  /** Keyboard input; ignored (returns false) unless this viewer holds control. */
  write(bytes: Uint8Array): boolean;
  /** The BMC is behind with the input already written (SolSession's high water): wait for `onDrain`. */
  readonly inputBacklogFull: boolean;
  sendBreak(): boolean;
  /** Take the keyboard from whoever has it; everyone is told. */
  takeControl(): void;
  readonly hasControl: boolean;
  detach(): void;
}

export interface SolViewerListeners {
  onData(bytes: Uint8Array): void;
  /** The input backlog fell under the high water again (every viewer is told; the one typing goes on). */
  onDrain?(): void;
  onEvent?(event: SolHubEvent): void;
}

interface Attached {
  id: string;
  listeners: SolViewerListeners;
}

/**
 * The single SOL payload of one BMC, fanned out to any number of viewers: one
 * holds the keyboard, the others read; a scrollback replays recent output to
 * whoever attaches later. SOL opens with the first viewer (or at start in
 * always-on mode) and closes with the last one.
 */
export class SolHub {
  private readonly viewers = new Map<string, Attached>();
  private controller: string | undefined;
  private readonly scrollback: ScrollbackStore;
  private sol: SolSession | undefined;
  private opening: Promise<SolSession> | undefined;
  private closed = false;
  /** The SOL activation whose takeover a viewer was already told of (each activation is announced once). */
  private announcedTakeover: SolSession | undefined;
  private reopenTimer: ReturnType<typeof setTimeout> | undefined;
  private reopenAttempts = 0;

  constructor(private readonly options: SolHubOptions) {
    this.scrollback = scrollbackStore(options);
  }

  get active(): boolean {
    return this.sol !== undefined;
  }

  /** Bytes in the replay buffer (what a viewer attaching now would get first). */
  get buffered(): number {
    return this.scrollback.size;
  }

  /** Always-on mode: open SOL now, with nobody attached. */
  async start(): Promise<void> {
    await this.ensureOpen(false);
  }

  async attach(viewerId: string, options: SolAttachOptions, listeners: SolViewerListeners): Promise<SolViewer> {
    if (this.closed) throw new LightsoutError('BMC_UNREACHABLE', 'SOL hub closed');
    if (this.viewers.has(viewerId)) throw new LightsoutError('CONFLICT', `viewer ${viewerId} is already attached`);
    const sol = await this.ensureOpen(options.takeover ?? false);
    const tookOver = sol.tookOver && this.announcedTakeover !== sol;
    if (sol.tookOver) this.announcedTakeover = sol;
    const replay = this.scrollback.snapshot();
    this.viewers.set(viewerId, { id: viewerId, listeners });
    if (options.mode === 'control' && this.controller === undefined) this.setController(viewerId);
    const holds = () => this.controller === viewerId;
    const backlogFull = () => (this.sol?.backlog ?? 0) >= SOL_INPUT_HIGH_WATER_BYTES;
    return {
      id: viewerId,
      tookOver,
      replay,
      // Output reaches the scrollback before any viewer (data, below), so it always holds what this viewer got.
      scrollback: () => this.scrollback.snapshot(),
      write: (bytes) => {
        if (!holds() || this.sol === undefined) return false;
        this.sol.write(bytes);
        return true;
      },
      get inputBacklogFull() {
        return backlogFull();
      },
      sendBreak: () => {
        if (!holds() || this.sol === undefined) return false;
        this.sol.sendBreak();
        return true;
      },
      takeControl: () => {
        if (this.viewers.has(viewerId)) this.setController(viewerId);
      },
      get hasControl() {
        return holds();
      },
      detach: () => this.detach(viewerId),
    };
  }

  /** Ends SOL for everyone (driver closing); attached viewers get `ended` with reason `closed`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reopenTimer);
    await this.shutdown('closed', 'hub closed');
    this.scrollback.close();
    this.broadcast({ type: 'ended', reason: 'closed', detail: 'SOL hub closed' });
    this.viewers.clear();
    this.controller = undefined;
  }

  private scheduleReopen(): void {
    if (this.closed || this.reopenTimer !== undefined) return;
    const delay = Math.min(30_000, 1000 * 2 ** this.reopenAttempts);
    this.reopenAttempts++;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      if (this.closed || this.sol !== undefined) return;
      this.ensureOpen(false).then(
        () => {
          this.reopenAttempts = 0;
        },
        () => this.scheduleReopen(),
      );
    }, delay);
    this.reopenTimer.unref();
  }

  private detach(viewerId: string): void {
    if (!this.viewers.delete(viewerId)) return;
    if (this.controller === viewerId) this.setController(undefined);
    if (this.viewers.size === 0 && !this.options.alwaysOn) void this.shutdown('closed', 'last viewer left');
  }

  private setController(holder: string | undefined): void {
    const previous = this.controller;
    if (previous === holder) return;
    this.controller = holder;
    this.broadcast({ type: 'control', holder, previous });
  }

  private async ensureOpen(takeover: boolean): Promise<SolSession> {
    if (this.sol !== undefined) return this.sol;
    this.opening ??= this.open(takeover).finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async open(takeover: boolean): Promise<SolSession> {
    const session = await this.options.openSession();
    if (!(session instanceof RmcpPlusSession)) {
      await session.close();
      throw new LightsoutError('BMC_UNSUPPORTED', 'SOL needs IPMI v2.0 (RMCP+); this BMC only speaks v1.5');
    }
    try {
      const sol = await SolSession.activate(session, {
        data: (bytes) => {
          this.scrollback.push(bytes);
          for (const viewer of this.viewers.values()) viewer.listeners.onData(bytes);
        },
        status: (status) => this.broadcast({ type: 'status', status }),
        inputDrained: () => {
          for (const viewer of this.viewers.values()) viewer.listeners.onDrain?.();
        },
        end: (reason, detail) => {
          if (this.sol === sol) this.sol = undefined;
          // Our own close deactivates first and closes the session after; anything else ends here,
          // giving back what we activated first when the session can still say so.
          if (reason !== 'closed') {
            const release = reason === 'stolen' || reason === 'deactivated-by-bmc' ? Promise.resolve() : sol.release();
            void release.finally(() => session.close());
            this.broadcast({ type: 'ended', reason, detail });
            // Always-on keeps SOL open across session loss (not across a takeover: that would fight the other user).
            if (this.options.alwaysOn && reason !== 'stolen') this.scheduleReopen();
          }
        },
      }, { takeover, ...(this.options.auxiliary === undefined ? {} : { auxiliary: this.options.auxiliary }), ...(this.options.ignorePort ? { ignorePort: true } : {}), ...(this.options.timing ? { timing: this.options.timing } : {}), ...(this.options.logger ? { logger: this.options.logger } : {}) });
      this.sol = sol;
      this.broadcast({ type: 'active' });
      return sol;
    } catch (error) {
      await session.close();
      throw error;
    }
  }

  private async shutdown(reason: SolEndReason, detail: string): Promise<void> {
    const opening = this.opening;
    if (opening !== undefined) await opening.catch(() => undefined);
    const sol = this.sol;
    this.sol = undefined;
    if (sol === undefined) return;
    await sol.close();
    await sol.session.close();
    if (reason !== 'closed') this.broadcast({ type: 'ended', reason, detail });
  }

  private broadcast(event: SolHubEvent): void {
    for (const viewer of this.viewers.values()) viewer.listeners.onEvent?.(event);
  }
}

function scrollbackStore(options: SolHubOptions): ScrollbackStore {
  const capacity = options.ringBytes ?? 256 * 1024;
  if (options.scrollbackDirectory !== undefined) {
    try {
      return ScrollbackFile.create(options.scrollbackDirectory, capacity, {
        onError: (error) => options.logger?.warn?.({ reason: error.message }, 'SOL scrollback file failed; keeping it in memory'),
      });
    } catch (error) {
      options.logger?.warn?.({ reason: error instanceof Error ? error.message : String(error) }, 'SOL scrollback file could not be made; keeping it in memory');
    }
  }
  return new Scrollback(capacity);
}
