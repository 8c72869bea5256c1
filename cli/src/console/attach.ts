import { ESCAPE_HELP, EscapeScanner, type ErrorCode, LightsoutError, isErrorCode, type SessionCreated, StreamClient, StreamCloseCode, type StreamSocketFactory, describeStatus } from '@lightsout/shared';
import { nodeSessionConnection } from '../node/stream-socket.js';
import { printable } from '../output.js';

/** The local terminal as the console needs it; process.stdin/stdout by default, streams in tests. */
export interface ConsoleTerminal {
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  output: NodeJS.WritableStream & { columns?: number; rows?: number; on?(event: 'resize', listener: () => void): unknown; off?(event: 'resize', listener: () => void): unknown };
  /** Where the console's own messages go (never mixed into the BMC's bytes on stdout). */
  notice(text: string): void;
}

export interface ConsoleOutcome {
  /** How it ended: the user left (`~.`), the session ended at the far end, or resuming gave up. */
  reason: 'left' | 'ended' | 'lost';
  code: number;
  detail: string;
  /** The far end's typed reason, when it gave one before closing (`BMC_BUSY` and the BMC's words). */
  error?: { code: string; message: string };
}

/** What the user sees when keys they typed did not reach the BMC (once per outage). */
export const INPUT_NOT_SENT_NOTICE = '[not connected — input not sent]';

/**
 * Attach a console session to the terminal: raw mode, the `~` escapes,
 * window size, and automatic resume after a network drop (StreamClient).
 * Keys typed while the path to the BMC is down (reconnecting, or the relay
 * says the agent is gone) are refused and the user told, never sent later:
 * a command typed into a frozen console must not run when it thaws.
 * Resolves when the session is over; the terminal is restored whatever happens.
 */
export function attachConsole(session: SessionCreated, terminal: ConsoleTerminal, options: { socket?: StreamSocketFactory } = {}): Promise<ConsoleOutcome> {
  return new Promise((resolve) => {
    const scanner = new EscapeScanner();
    const { input, output } = terminal;
    const raw = input.isTTY === true && typeof input.setRawMode === 'function';
    if (raw) input.setRawMode!(true);
    let leaving = false;
    let lastMode: string | undefined;
    let announcedLoss = false;
    let announcedRefusal = false;
    let startedReading = false;
    let refusal: { code: string; message: string } | undefined;

    const client = new StreamClient({
      // Follows the session to the gateway its agent fails over to (the route question).
      ...nodeSessionConnection(session, options.socket),
      onData: (bytes) => {
        output.write(bytes);
      },
      onStatus: (status) => {
        const line = describeStatus(status, ' (~? for help)');
        if (line) terminal.notice(`\r\n[lightsout: ${printable(line)}]\r\n`);
        if (lastMode !== undefined && lastMode !== status.mode && status.event !== 'took-over') terminal.notice(`\r\n[lightsout: you now have ${status.mode === 'control' ? 'control' : 'a read-only view'}]\r\n`);
        lastMode = status.mode;
      },
      onState: (state, detail) => {
        // Once per outage, however many attempts it takes.
        if (state === 'reconnecting' && !announcedLoss) {
          announcedLoss = true;
          terminal.notice(`\r\n[lightsout: connection lost (${printable(detail ?? 'network')}), resuming…]\r\n`);
        }
        if (state === 'streaming' && announcedLoss) {
          announcedLoss = false;
          terminal.notice('\r\n[lightsout: resumed]\r\n');
        }
        if (state === 'streaming') {
          announcedRefusal = false;
          // A refusal a resume got past (agent offline for a moment) is not why the session ends later.
          refusal = undefined;
          sendSize();
          // Input is read from the first time the console streams: what a script piped in before is sent, not refused.
          if (!startedReading) {
            startedReading = true;
            input.resume();
          }
        }
      },
      onDrain: () => input.resume(),
      refuseInputWhileDown: true,
      onInputRefused: () => {
        if (announcedRefusal) return;
        announcedRefusal = true;
        terminal.notice(`\r\n${INPUT_NOT_SENT_NOTICE}\r\n`);
      },
      onPath: (up) => {
        if (up) announcedRefusal = false;
        terminal.notice(up ? '\r\n[lightsout: the BMC is reachable again]\r\n' : '\r\n[lightsout: the path to the BMC is down (agent unreachable); input is not sent]\r\n');
      },
      onError: (code, message) => {
        refusal = { code, message };
      },
      onClose: (code, reason) => {
        cleanUp();
        // Leaving resolves when the close handshake is done (leave() below): exiting earlier could cut the close frame off.
        if (leaving) return;
        const error = refusal === undefined ? {} : { error: refusal };
        if (code === StreamCloseCode.ENDED || code === 1000) resolve({ reason: 'ended', code, detail: reason, ...error });
        else resolve({ reason: 'lost', code, detail: reason, ...error });
      },
    });

    const sendSize = () => {
      if (output.columns && output.rows) client.control({ type: 'resize', cols: output.columns, rows: output.rows });
    };
    const onInput = (chunk: Buffer | string) => {
      const { forward, actions } = scanner.scan(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      if (forward.length > 0 && !client.write(forward)) input.pause();
      for (const action of actions) {
        if (action === 'help') terminal.notice(`\r\n${ESCAPE_HELP}`);
        if (action === 'break') client.control({ type: 'break' });
        if (action === 'leave') {
          terminal.notice('\r\n[lightsout: leaving the console]\r\n');
          leave();
          return;
        }
      }
    };
    // Piped input that ends (a script) leaves the console once everything was sent.
    const onEnd = () => leave();
    // Explicit and immediate: the relay and the agent end the session now (close 1000), not after the grace period.
    function leave() {
      if (leaving) return;
      leaving = true;
      void client.leave().then(() => {
        cleanUp();
        resolve({ reason: 'left', code: 1000, detail: 'left by user' });
      });
    }
    input.on('data', onInput);
    input.on('end', onEnd);
    output.on?.('resize', sendSize);
    input.pause();

    function cleanUp() {
      input.off('data', onInput);
      input.off('end', onEnd);
      output.off?.('resize', sendSize);
      input.pause();
      if (raw) input.setRawMode!(false);
    }
  });
}

/**
 * The error a console's end is for the person: the far end's own code and
 * words when it said why (a BMC refusal then gets its code's hint, not the
 * network's), else one from the close code.
 */
export function outcomeError(outcome: ConsoleOutcome): LightsoutError | undefined {
  if (outcome.reason === 'left') return undefined;
  if (outcome.reason === 'ended' && outcome.code === 1000) return undefined;
  if (outcome.error !== undefined && isErrorCode(outcome.error.code)) {
    // No hint of its own: the CLI prints the code's default hint (DEFAULT_HINTS), or the caller adds one.
    return new LightsoutError(outcome.error.code, `the console could not be opened or went away: ${outcome.error.message}`);
  }
  const code: ErrorCode = outcome.code === StreamCloseCode.UNAUTHENTICATED ? 'UNAUTHENTICATED' : outcome.code === StreamCloseCode.FORBIDDEN ? 'FORBIDDEN' : outcome.code === StreamCloseCode.NOT_FOUND ? 'NOT_FOUND' : outcome.code === StreamCloseCode.BMC_UNREACHABLE ? 'BMC_UNREACHABLE' : outcome.reason === 'lost' ? 'RELAY_UNREACHABLE' : 'CONFLICT';
  return new LightsoutError(code, `console session ${outcome.reason === 'lost' ? 'lost' : 'ended'}: ${outcome.detail || `code ${outcome.code}`}`, {
    hint: outcome.reason === 'lost' ? 'check the network and open the console again' : 'open the console again',
  });
}
