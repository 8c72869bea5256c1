import type { ConsoleState } from '../streams/console-stream.js';
import { stateLabel } from './use-console-stream.js';

/** Shown over a console while it is not live: why, and what the user can do. */
export function ConsoleOverlay({ state, detail, refusedBytes = 0, onRestart, onTakeOver }: { state: ConsoleState; detail?: string | undefined; refusedBytes?: number; onRestart(): void; onTakeOver?: (() => void) | undefined }) {
  if (state === 'streaming') return null;
  const over = state === 'closed' || state === 'failed';
  return (
    <div className="console-overlay" data-testid="console-overlay" data-state={state}>
      <div className="box">
        <div>{stateLabel(state)}</div>
        {detail ? <div style={{ color: '#9aa4ae', fontSize: 12, marginTop: 4 }}>{detail}</div> : null}
        {state === 'reconnecting' ? <div style={{ color: '#9aa4ae', fontSize: 12, marginTop: 4 }}>Output is kept; the console resumes where it stopped. Keys typed now are not sent.</div> : null}
        {refusedBytes > 0 ? (
          <div data-testid="input-not-sent" style={{ color: 'var(--warn)', fontSize: 12, marginTop: 4 }}>
            not connected — input not sent ({refusedBytes} {refusedBytes === 1 ? 'byte' : 'bytes'})
          </div>
        ) : null}
        {over ? (
          <button className="primary" style={{ marginTop: 10 }} onClick={onRestart}>
            Start a new session
          </button>
        ) : null}
        {over && onTakeOver ? (
          <div style={{ marginTop: 10 }}>
            <div style={{ color: '#9aa4ae', fontSize: 12, marginBottom: 4 }}>Another session (another tool, e.g. ipmitool) holds this server's SOL.</div>
            <button data-testid="sol-take-over" onClick={onTakeOver} title="End the other session's SOL on the BMC and open the console here (audited)">
              Take over
            </button>
          </div>
        ) : null}
      </div>
    </div>
  );
}
