import type { StatusMessage, StreamKind } from '@lightsout/shared';
import { useEffect, useId, useRef, useState } from 'react';
import { useApp } from '../app-context.js';
import { ConsoleStream, type ConsoleState } from '../streams/console-stream.js';

/** What the pane says while the relay reports the agent (the path to the BMC) gone. */
export const PATH_DOWN_DETAIL = 'the path to the BMC is down (agent unreachable): input is not sent';

/**
 * One console session for a component's lifetime: created on mount, disposed
 * on unmount (closing the tab ends the session; hiding it does not). A typing
 * console (SOL, serial) refuses input while the path to the BMC is down: the
 * pane shows "reconnecting" until the relay says the agent is back.
 */
export function useConsoleStream(serverId: string, kind: StreamKind, onData: (bytes: Uint8Array) => void) {
  const app = useApp();
  const [state, setState] = useState<{ state: ConsoleState; detail?: string }>({ state: 'requesting' });
  const [status, setStatus] = useState<StatusMessage | null>(null);
  /** Bytes typed that did not reach the BMC since the path last came up. */
  const [refusedBytes, setRefusedBytes] = useState(0);
  /** The code of the far end's refusal that closed the session (BMC_BUSY: SOL held by another session), until the next session. */
  const [errorCode, setErrorCode] = useState<string | undefined>(undefined);
  const stream = useRef<ConsoleStream | null>(null);
  const dataHandler = useRef(onData);
  dataHandler.current = onData;
  /** How a new session starts for this console (a component that rebuilds its viewer sets its own). */
  const restartWith = useRef<(() => void) | null>(null);
  const registryId = useId();

  // "Reconnect all" sees this console's state and can start its new session.
  const { consoles } = app;
  useEffect(() => {
    consoles.set(registryId, { state: state.state, restart: () => (restartWith.current ? restartWith.current() : void stream.current?.restart()) });
  }, [consoles, registryId, state.state]);
  useEffect(() => () => consoles.delete(registryId), [consoles, registryId]);

  useEffect(() => {
    const created = new ConsoleStream({
      client: app.client,
      serverId,
      kind,
      mode: 'control',
      onData: (bytes) => dataHandler.current(bytes),
      onState: (next, detail) => {
        if (next === 'streaming') setRefusedBytes(0);
        if (next === 'requesting') setErrorCode(undefined);
        setState(detail === undefined ? { state: next } : { state: next, detail });
      },
      onStatus: setStatus,
      refuseInputWhileDown: kind !== 'vnc',
      onInputRefused: (bytes) => setRefusedBytes((total) => total + bytes),
      onError: (code) => setErrorCode(code),
      onPath: (up) => {
        if (up) setRefusedBytes(0);
        setState(up ? { state: 'streaming' } : { state: 'reconnecting', detail: PATH_DOWN_DETAIL });
      },
    });
    stream.current = created;
    return () => {
      created.dispose();
      stream.current = null;
    };
  }, [app.client, serverId, kind]);

  // A popped-out console continues the one the main window just closed: take control once,
  // instead of watching our own detached session hold it through its grace period.
  const tookOver = useRef(false);
  useEffect(() => {
    if (!app.poppedOut || tookOver.current || status?.mode !== 'view') return;
    tookOver.current = true;
    stream.current?.takeOver();
  }, [app.poppedOut, status]);

  return { stream, state, status, refusedBytes, errorCode, restartWith };
}

export function stateLabel(state: ConsoleState): string {
  switch (state) {
    case 'requesting': return 'requesting session…';
    case 'connecting': return 'connecting…';
    case 'resuming': return 'resuming…';
    case 'streaming': return 'live';
    case 'reconnecting': return 'reconnecting…';
    case 'closed': return 'session ended';
    case 'failed': return 'failed';
  }
}
