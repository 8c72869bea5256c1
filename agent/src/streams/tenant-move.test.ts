import { once } from 'node:events';
import { StreamCloseCode } from '@lightsout/shared';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerEntry } from '../config/types.js';
import { startStreamWorld } from '../testing/stream-world.js';
import type { ConsolePort } from './ports/types.js';

/**
 * A provider admin moved a server to another tenant: the agent ends the old
 * tenant's console sessions on it for good, drops the shared console (and
 * with it the scrollback of the old tenant's screen), refuses the old
 * tenant from then on and opens the console for the new one.
 */
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const server: ServerEntry = { id: 'sim-06', name: 'sim-06', tenant: 'demo', rack: 'r1', labels: {} };

async function world() {
  const ports: Array<{ closed: boolean }> = [];
  const openPort = async (): Promise<ConsolePort> => {
    const state = { closed: false };
    ports.push(state);
    return { replay: new TextEncoder().encode('demo$ secret-command\r\n'), write: () => true, sendBreak: () => undefined, pause: () => undefined, resume: () => undefined, close: () => void (state.closed = true) };
  };
  const { streams, tenants, legs, open: openAs, request, stop } = await startStreamWorld(server, openPort);
  cleanups.push(stop);
  const open = (sessionId: string, tenant: string) => openAs(sessionId, { tenant, subject: `user-of-${tenant}`, user: `user-of-${tenant}` });
  return { streams, tenants, legs, ports, open, request };
}

describe('a server moved to another tenant', () => {
  it('server.assign ends the old tenant\'s sessions and console; the new tenant is the only one let in', async () => {
    const { streams, legs, ports, open, request } = await world();
    await open('session-of-demo-0001', 'demo');
    expect(streams.hasSession('session-of-demo-0001')).toBe(true);
    const demoLeg = legs[0]!;
    const closed = once(demoLeg, 'close');

    expect(await request('server.assign', { serverId: server.id, tenant: 'bravo' })).toEqual({ sessionsEnded: 1 });
    const [code] = (await closed) as [number];
    expect(code).toBe(StreamCloseCode.ENDED);
    expect(streams.hasSession('session-of-demo-0001')).toBe(false);
    expect(ports[0]!.closed).toBe(true);

    await expect(open('session-of-demo-0002', 'demo')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await open('session-of-bravo-0001', 'bravo');
    expect(streams.hasSession('session-of-bravo-0001')).toBe(true);
    // A new console for bravo: not the one that held demo's screen.
    expect(ports).toHaveLength(2);
    expect(ports[1]!.closed).toBe(false);
  });

  it('an assignment heard at (re)connect (inventory-ack) does the same', async () => {
    const { streams, tenants, legs, open } = await world();
    await open('session-of-demo-0003', 'demo');
    const closed = once(legs[0]!, 'close');
    tenants.assign(server.id, 'bravo');
    await closed;
    expect(streams.hasSession('session-of-demo-0003')).toBe(false);
    await expect(open('session-of-demo-0004', 'demo')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // Assigned back to the tenant of its config: the assignment is dropped, the config's tenant is let in again.
    tenants.assign(server.id, 'demo');
    expect(tenants.tenantOf(server.id)).toBe('demo');
    await open('session-of-demo-0005', 'demo');
  });

  it('refuses an assignment for a server this agent does not have', async () => {
    const { request } = await world();
    await expect(request('server.assign', { serverId: 'elsewhere', tenant: 'bravo' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(request('server.assign', { serverId: server.id })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});
