import { randomBytes } from 'node:crypto';
import type { SolHub } from '../../ipmi/index.js';
import type { ConsolePort, ConsolePortEvents } from './types.js';

/**
 * SOL as a console port: one viewer of the BMC's SOL hub (agent/src/ipmi,
 * docs/ipmi.md) per console group. The group decides which of its members
 * types, so this viewer always asks for control. SOL output cannot be
 * paused (the BMC keeps sending; the hub fans out to other viewers too): a
 * member that falls too far behind is dropped by the group instead. Input
 * can: past SOL_INPUT_HIGH_WATER_BYTES not yet taken by the BMC, write()
 * says wait, and `drain` follows when the BMC has caught up.
 */
export async function openSolPort(hub: SolHub, events: ConsolePortEvents, options: { takeover?: boolean } = {}): Promise<ConsolePort> {
  let closed = false;
  const finish = (reason: string) => {
    if (closed) return;
    closed = true;
    events.close(reason);
  };
  // takeover: another BMC session's SOL (another tool) is deactivated; the user asked for it (SessionCreate.takeover).
  const viewer = await hub.attach(`streams-${randomBytes(6).toString('base64url')}`, { mode: 'control', takeover: options.takeover === true }, {
    onData: (bytes) => {
      if (!closed) events.data(bytes);
    },
    // The BMC took enough of a paste it was behind with: the group acknowledges the client's input again.
    onDrain: () => {
      if (!closed) events.drain();
    },
    onEvent: (event) => {
      if (event.type === 'ended') finish(`SOL ended: ${event.reason}${event.detail ? ` (${event.detail})` : ''}`);
    },
  });
  return {
    // Recent output from before anyone attached (the boot banner, the login prompt): the group seeds its scrollback with it.
    // It used to be sent through events.data on a microtask, which ran before the group existed, so every viewer lost it.
    replay: viewer.replay,
    // The hub's ring already holds what the group would keep: one copy per console, not two.
    scrollback: () => viewer.scrollback(),
    // Only what was asked for is reported (and audited); taking back our own predecessor's SOL is routine.
    tookOver: options.takeover === true && viewer.tookOver,
    write: (bytes) => {
      // Another user of the hub may hold the keyboard; take it back for the console group.
      if (!viewer.hasControl) viewer.takeControl();
      viewer.write(bytes);
      // A UART takes 11.5 KB/s at 115,200 baud: a paste waits at its sender (the stream's window), not here.
      return !viewer.inputBacklogFull;
    },
    sendBreak: () => void viewer.sendBreak(),
    pause: () => undefined,
    resume: () => undefined,
    close: () => {
      viewer.detach();
      finish('closed');
    },
  };
}
