import type { SolHub, SolHubEvent, SolViewer } from './sol-hub.js';

/**
 * The SOL hub seen as a duplex byte port, the shape the stream plane's
 * console groups use (agent/src/streams/ports/types.ts ConsolePort; kept
 * structural so ipmi/ does not depend on streams/). One port = one hub
 * viewer: several ports on one BMC share its single SOL session.
 */
export interface SolConsolePort {
  write(bytes: Uint8Array): boolean;
  sendBreak(): void;
  pause(): void;
  resume(): void;
  close(): void;
}

export interface SolConsolePortEvents {
  data(bytes: Uint8Array): void;
  drain(): void;
  close(reason: string): void;
}

/** How many bytes a paused port keeps before it ends the viewer (it must not grow without bound). */
const MAX_PAUSED_BYTES = 4 * 1024 * 1024;

export async function openSolConsolePort(hub: SolHub, viewerId: string, mode: 'control' | 'view', events: SolConsolePortEvents, options: { takeover?: boolean } = {}): Promise<SolConsolePort> {
  let paused = false;
  let held: Uint8Array[] = [];
  let heldBytes = 0;
  let closed = false;
  const attached: { viewer?: SolViewer } = {};
  const end = (reason: string) => {
    if (closed) return;
    closed = true;
    attached.viewer?.detach();
    events.close(reason);
  };
  const deliver = (bytes: Uint8Array) => {
    if (closed) return;
    if (!paused) return events.data(bytes);
    // SOL cannot pause the host's UART; a paused port keeps what arrives, bounded.
    held.push(bytes.slice());
    heldBytes += bytes.length;
    if (heldBytes > MAX_PAUSED_BYTES) end('viewer fell too far behind the SOL output');
  };
  const viewer = await hub.attach(viewerId, { mode, ...(options.takeover ? { takeover: true } : {}) }, {
    onData: deliver,
    onEvent: (event: SolHubEvent) => {
      if (event.type === 'ended') end(`SOL ended: ${event.reason} (${event.detail})`);
    },
  });
  attached.viewer = viewer;
  if (viewer.replay.length > 0) deliver(viewer.replay);
  return {
    write: (bytes) => {
      if (!closed && viewer.hasControl) viewer.write(bytes);
      return true;
    },
    sendBreak: () => {
      if (!closed) viewer.sendBreak();
    },
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
      const backlog = held;
      held = [];
      heldBytes = 0;
      for (const bytes of backlog) events.data(bytes);
      events.drain();
    },
    close: () => end('closed'),
  };
}
