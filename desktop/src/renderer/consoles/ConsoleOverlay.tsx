import type { ConsoleState } from '../streams/console-stream.js';
import { stateLabel } from './use-console-stream.js';

/** Shown over a console while it is not live: why, and what the user can do. */
export function ConsoleOverlay({ state, detail, onRestart }: { state: ConsoleState; detail?: string | undefined; onRestart(): void }) {
  if (state === 'streaming') return null;
  const over = state === 'closed' || state === 'failed';
  return (
    <div className="console-overlay" data-testid="console-overlay" data-state={state}>
      <div className="box">
        <div>{stateLabel(state)}</div>
        {detail ? <div style={{ color: '#9aa4ae', fontSize: 12, marginTop: 4 }}>{detail}</div> : null}
        {state === 'reconnecting' ? <div style={{ color: '#9aa4ae', fontSize: 12, marginTop: 4 }}>Output is kept; the console resumes where it stopped.</div> : null}
        {over ? (
          <button className="primary" style={{ marginTop: 10 }} onClick={onRestart}>
            Start a new session
          </button>
        ) : null}
      </div>
    </div>
  );
}
