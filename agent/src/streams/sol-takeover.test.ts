import { afterEach, describe, expect, it } from 'vitest';
import type { ServerEntry } from '../config/types.js';
import type { SolAttachOptions, SolHub, SolViewer } from '../ipmi/index.js';
import { startStreamWorld } from '../testing/stream-world.js';
import { openSolPort } from './ports/sol.js';
import type { ConsolePort, ConsolePortOpenOptions } from './ports/types.js';

/**
 * `takeover` from the relay's `stream.open` to the SOL hub: only the session
 * that asked passes it to the port it opens, and only a port that really
 * ended another BMC session's SOL makes `stream.open` answer `tookOver`
 * (the relay audits that answer).
 */
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const server: ServerEntry = { id: 'sim-07', name: 'sim-07', tenant: 'demo', rack: 'r1', labels: {} };

async function world() {
  const opened: ConsolePortOpenOptions[] = [];
  const openPort = async (_server: ServerEntry, _kind: unknown, _events: unknown, options: ConsolePortOpenOptions = {}): Promise<ConsolePort> => {
    opened.push(options);
    // As the SOL port does: it took over only when asked and another session held SOL.
    return { tookOver: options.takeover === true, write: () => true, sendBreak: () => undefined, pause: () => undefined, resume: () => undefined, close: () => undefined };
  };
  const { request, open: openWith, stop } = await startStreamWorld(server, openPort);
  cleanups.push(stop);
  const open = (sessionId: string, takeover?: boolean) => openWith(sessionId, takeover === undefined ? {} : { takeover });
  return { request, opened, open };
}

describe('stream.open with takeover', () => {
  it('passes takeover to the port it opens and answers tookOver; a session joining the open console took nothing over', async () => {
    const { opened, open } = await world();
    expect(await open('session-takeover-0001', true)).toEqual({ tookOver: true });
    expect(opened).toEqual([{ takeover: true }]);
    expect(await open('session-joining-0002', true)).toEqual({});
    expect(opened).toHaveLength(1);
  });

  it('opens without takeover when not asked', async () => {
    const { opened, open } = await world();
    expect(await open('session-plain-00001')).toEqual({});
    expect(opened).toEqual([{ takeover: false }]);
  });

  it('refuses a malformed takeover', async () => {
    const { request } = await world();
    const params = { sessionId: 'session-malformed-01', legId: 'leg-malformed', serverId: server.id, tenant: 'demo', kind: 'sol', mode: 'control', subject: 'u', user: 'u', resume: false, dialPath: '/x', takeover: 'yes' };
    await expect(request('stream.open', params)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

describe('the SOL port', () => {
  function hub(tookOver: boolean) {
    const attached: SolAttachOptions[] = [];
    const fake = {
      attach: async (_id: string, options: SolAttachOptions): Promise<SolViewer> => {
        attached.push(options);
        return { id: 'v', tookOver, replay: new Uint8Array(), scrollback: () => new Uint8Array(), write: () => true, sendBreak: () => true, takeControl: () => undefined, hasControl: true, inputBacklogFull: false, detach: () => undefined };
      },
    } as unknown as SolHub;
    return { fake, attached };
  }
  const events = { data: () => undefined, drain: () => undefined, close: () => undefined };

  it('asks the hub for takeover when the session did, and reports the takeover', async () => {
    const { fake, attached } = hub(true);
    const port = await openSolPort(fake, events, { takeover: true });
    expect(attached).toEqual([{ mode: 'control', takeover: true }]);
    expect(port.tookOver).toBe(true);
  });

  it('does not report taking back its own predecessor\'s SOL (not asked for, not a takeover of anyone)', async () => {
    const { fake, attached } = hub(true);
    const port = await openSolPort(fake, events);
    expect(attached).toEqual([{ mode: 'control', takeover: false }]);
    expect(port.tookOver).toBe(false);
  });
});
