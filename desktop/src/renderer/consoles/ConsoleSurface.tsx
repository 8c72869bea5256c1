import type { RefObject } from 'react';
import { useApp } from '../app-context.js';
import type { ConsoleState } from '../streams/console-stream.js';
import { ConsoleOverlay } from './ConsoleOverlay.js';

/**
 * The pane a console draws into (`host` is handed to xterm or noVNC), with the
 * not-live overlay on top. Dropping a file on it uploads it as virtual media
 * for the server, the same as dropping it on the server's tree row.
 */
export function ConsoleSurface({ className, testId, serverId, host, state, detail, refusedBytes, onRestart, onTakeOver }: {
  className: string;
  testId: string;
  serverId: string;
  host: RefObject<HTMLDivElement | null>;
  state: ConsoleState;
  detail?: string | undefined;
  /** Keys typed that did not reach the BMC (the path is down). */
  refusedBytes?: number;
  onRestart(): void;
  /** Offered when the session ended because another session holds the BMC's SOL: a new session that takes it over. */
  onTakeOver?: (() => void) | undefined;
}) {
  const app = useApp();
  return (
    <div
      className={className}
      data-testid={testId}
      data-server-id={serverId}
      onDragOver={(event) => event.dataTransfer.types.includes('Files') && event.preventDefault()}
      onDrop={(event) => {
        event.preventDefault();
        const file = event.dataTransfer.files[0];
        if (file) app.uploadMedia(serverId, file);
      }}
    >
      <div ref={host} style={{ position: 'absolute', inset: 0 }} />
      <ConsoleOverlay state={state} detail={detail} refusedBytes={refusedBytes ?? 0} onRestart={onRestart} onTakeOver={onTakeOver} />
    </div>
  );
}
