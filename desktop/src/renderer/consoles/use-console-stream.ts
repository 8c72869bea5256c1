import type { StatusMessage, StreamKind } from '@lightsout/shared';
import { useEffect, useRef, useState } from 'react';
import { useApp } from '../app-context.js';
import { ConsoleStream, type ConsoleState } from '../streams/console-stream.js';

/**
 * One console session for a component's lifetime: created on mount, disposed
 * on unmount (closing the tab ends the session; hiding it does not).
 */
export function useConsoleStream(serverId: string, kind: StreamKind, onData: (bytes: Uint8Array) => void) {
  const app = useApp();
  const [state, setState] = useState<{ state: ConsoleState; detail?: string }>({ state: 'requesting' });
  const [status, setStatus] = useState<StatusMessage | null>(null);
  const stream = useRef<ConsoleStream | null>(null);
  const dataHandler = useRef(onData);
  dataHandler.current = onData;

  useEffect(() => {
    const created = new ConsoleStream({
      client: app.client,
      serverId,
      kind,
      mode: 'control',
      onData: (bytes) => dataHandler.current(bytes),
      onState: (next, detail) => setState(detail === undefined ? { state: next } : { state: next, detail }),
      onStatus: setStatus,
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

  return { stream, state, status };
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
