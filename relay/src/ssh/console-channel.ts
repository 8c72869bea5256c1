import { ESCAPE_HELP, EscapeScanner, type SessionCreated, type SetTimer, StreamClient, StreamCloseCode, type StreamSocketFactory, describeStatus, isErrorCode } from '@lightsout/shared';
import type { ServerChannel } from 'ssh2';
import { type SshExitStatus, SshExitStatus as Exit, exitStatusOf, exitStatusOfClose } from './exit-status.js';

/** How a console channel ended, for the audit row and the exit status `ssh` returns. */
export interface ConsoleChannelOutcome {
  exitStatus: SshExitStatus;
  reason: string;
}

export interface ConsoleChannelOptions {
  session: SessionCreated;
  /** This relay's own stream endpoint for the session (loopback), not the public URL. */
  streamUrl: string;
  socket: StreamSocketFactory;
  setTimer: SetTimer;
  /** SOL carries a serial break (IPMI v2.0 §15.9); a plain serial port here does not. */
  breakSupported: boolean;
  /** The client's terminal size, when it asked for a pty. */
  size?: { cols: number; rows: number };
}

/**
 * Console output held for a channel that is not attached yet: the few
 * milliseconds between authentication (when the console opens) and the
 * client's shell request. Past this, the oldest output is what a late shell
 * would have missed anyway; the session's scrollback still has it.
 */
export const MAX_HELD_BYTES = 256 * 1024;

/** Help for the gateway's own escapes, after the shared list. */
const SSH_ESCAPE_NOTE = '  (OpenSSH acts on ~. ~B ~? itself first; type ~~ then the letter to reach these)\r\n';

/**
 * One SSH channel as a client of the console session (the stream plane's
 * StreamClient against this relay's /v1/streams): the same leg, recording,
 * sharing and revocation as the CLI, the desktop and the web console.
 * Console bytes go to the channel's stdout, the gateway's own notices to
 * its stderr. SSH cannot resume, so closing the channel leaves the session
 * (close 1000) at once instead of holding the BMC console for the grace period.
 *
 * The console opens as soon as the key is accepted, while OpenSSH is still
 * asking for its session channel, pty and shell (several round trips); the
 * shell's channel is attached when it arrives, and what happened meanwhile
 * (output, notices, an early end) reaches it then, in order.
 *
 *   connecting ─first resume→ streaming ─~. / channel closed / EOF→ leaving → done
 *        │ refused, or an error before the first byte             │ far end ended
 *        └──────────────────────────────────────────── done ◀─────┘
 */
export class ConsoleChannel {
  private readonly client: StreamClient;
  private readonly scanner = new EscapeScanner();
  private size: { cols: number; rows: number } | undefined;
  private streamed = false;
  private leaving = false;
  private finished = false;
  private toldReadOnly = false;
  private toldRefused = false;
  private mode: string;
  private channel: ServerChannel | undefined;
  /** What to do to the channel once it is attached, in order. */
  private held: Array<{ bytes: number; apply(channel: ServerChannel): void }> = [];
  private heldBytes = 0;
  /** The channel's buffer is over its high-water mark: acks are withheld until it drains. */
  private backedUp = false;
  readonly done: Promise<ConsoleChannelOutcome>;
  private resolveDone!: (outcome: ConsoleChannelOutcome) => void;

  constructor(private readonly options: ConsoleChannelOptions) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.size = options.size;
    this.mode = options.session.mode;
    this.client = new StreamClient({
      streamUrl: options.streamUrl,
      token: options.session.token,
      socket: options.socket,
      setTimer: options.setTimer,
      refuseInputWhileDown: true,
      onData: (bytes) => this.toChannel(bytes.length, (channel) => this.toClient(channel, bytes)),
      onStatus: (status) => {
        const line = describeStatus(status);
        if (line !== undefined) this.notice(line);
        this.mode = status.mode;
      },
      onState: (state, detail) => {
        if (state === 'streaming' && !this.streamed) {
          this.streamed = true;
          this.sendSize();
          this.toChannel(0, (channel) => channel.resume());
        }
        // Before the first byte an error from the relay or the agent (agent offline, BMC unreachable)
        // is the answer: say it and exit, rather than retrying for the session's grace period.
        if (state === 'reconnecting' && !this.streamed && detail !== undefined && isErrorCode(detail)) {
          this.notice(`could not open the console: ${detail}`);
          this.finish({ exitStatus: exitStatusOf(detail), reason: detail });
          this.client.close();
          return;
        }
        if (state === 'reconnecting' && this.streamed) this.notice(`connection to the console lost (${detail ?? 'network'}), resuming…`);
      },
      onDrain: () => this.toChannel(0, (channel) => channel.resume()),
      onInputRefused: () => {
        if (this.toldRefused) return;
        this.toldRefused = true;
        this.notice('the path to the BMC is down: input not sent');
      },
      onPath: (up) => {
        if (up) this.toldRefused = false;
        this.notice(up ? 'the BMC is reachable again' : 'the path to the BMC is down (agent unreachable); input is not sent');
      },
      onClose: (code, reason) => {
        if (this.leaving) return;
        if (code !== 1000) this.notice(`the console ended: ${reason || `code ${code}`}`);
        this.finish({ exitStatus: code === StreamCloseCode.ENDED ? Exit.OK : exitStatusOfClose(code), reason: reason || `code ${code}` });
      },
    });
  }

  /** The client's shell channel: it gets what was held for it, then the console live. */
  attach(channel: ServerChannel): void {
    if (this.channel !== undefined) throw new Error('console channel attached twice');
    this.channel = channel;
    channel.pause();
    for (const step of this.held) step.apply(channel);
    this.held = [];
    this.heldBytes = 0;
    if (this.finished) return;
    channel.on('data', (chunk: Buffer) => this.onInput(chunk));
    // Piped input that ends (a script) leaves once everything was sent; so does a client that closes.
    channel.on('end', () => this.leave('input ended'));
    channel.on('close', () => this.leave('connection closed'));
  }

  /**
   * Console output to the client. A client that does not read stops opening
   * the channel's window (RFC 4254 §5.2), so ssh2 buffers what is written;
   * once that passes its high-water mark the stream's acks are withheld, the
   * agent's send window closes, and what waits here stays within one window
   * instead of growing with everything the BMC sends. 'drain' releases them.
   */
  private toClient(channel: ServerChannel, bytes: Uint8Array): void {
    if (channel.write(bytes) || this.backedUp) return;
    this.backedUp = true;
    this.client.holdAcks(true);
    channel.once('drain', () => {
      this.backedUp = false;
      this.client.holdAcks(false);
    });
  }

  /** Applies `step` to the channel now, or holds it (bounded) until the channel is attached. */
  private toChannel(bytes: number, step: (channel: ServerChannel) => void): void {
    if (this.channel !== undefined) return step(this.channel);
    while (this.heldBytes + bytes > MAX_HELD_BYTES && this.held.some((entry) => entry.bytes > 0)) {
      const oldest = this.held.findIndex((entry) => entry.bytes > 0);
      this.heldBytes -= this.held[oldest]!.bytes;
      this.held.splice(oldest, 1);
    }
    this.held.push({ bytes, apply: step });
    this.heldBytes += bytes;
  }

  /** The SSH connection is gone (a client's own `~.`, a network drop): leave the session now, there is no one to resume it. */
  hangUp(): void {
    this.leave('connection closed');
  }

  resize(cols: number, rows: number): void {
    this.size = { cols, rows };
    this.sendSize();
  }

  /** A serial break: `~B`, or OpenSSH's own `~B` (an RFC 4335 "break" request). */
  sendBreak(): void {
    if (!this.options.breakSupported) return this.notice('this console has no serial break (only SOL consoles do)');
    if (this.mode === 'view') return this.notice('read-only view: break not sent');
    this.client.control({ type: 'break' });
    this.notice('break sent');
  }

  private sendSize(): void {
    if (this.size !== undefined && this.size.cols > 0 && this.size.rows > 0) this.client.control({ type: 'resize', cols: this.size.cols, rows: this.size.rows });
  }

  private onInput(chunk: Buffer): void {
    if (this.leaving) return;
    const { forward, actions } = this.scanner.scan(chunk);
    if (forward.length > 0) {
      if (this.mode === 'view') {
        if (!this.toldReadOnly) this.notice('read-only view: input is not sent');
        this.toldReadOnly = true;
      } else if (!this.client.write(forward)) this.channel?.pause();
    }
    for (const action of actions) {
      if (action === 'help') this.channel?.stderr.write(`\r\n${ESCAPE_HELP}${SSH_ESCAPE_NOTE}`);
      if (action === 'break') this.sendBreak();
      if (action === 'leave') {
        this.notice('leaving the console');
        this.leave('left by user');
        return;
      }
    }
  }

  private notice(text: string): void {
    if (!this.finished) this.toChannel(0, (channel) => channel.stderr.write(`\r\n[lightsout: ${text}]\r\n`));
  }

  /** The user is done: close 1000, so the relay and the agent end the session now. */
  private leave(reason: string): void {
    if (this.leaving || this.finished) return;
    this.leaving = true;
    void this.client.leave().then(() => this.finish({ exitStatus: Exit.OK, reason }));
  }

  private finish(outcome: ConsoleChannelOutcome): void {
    if (this.finished) return;
    this.finished = true;
    this.resolveDone(outcome);
    this.toChannel(0, (channel) => {
      try {
        channel.exit(outcome.exitStatus);
        channel.end();
      } catch {
        // The connection is already gone: there is no one to tell.
      }
    });
  }
}
