import { describe, expect, it } from 'vitest';
import { ServerActivity } from './activity.js';
import { ServerEvents } from './events.js';

/**
 * Another replica's console counts as its numbered messages say: a message
 * heard after a newer one (a large message is fetched from the store first)
 * changes nothing, a full one replaces everything the replica had, and a
 * replica gone takes its counts with it.
 */
describe('console counts of the other replicas', () => {
  it('adds them to this replica’s own, ignores an older message heard late, and forgets a replica gone', () => {
    const activity = new ServerActivity(new ServerEvents());
    activity.sessionStarted('web-01');
    activity.receive('gateway-1', [['web-01', 2]], false, 2);
    expect(activity.of('web-01').sessions).toBe(3);
    // Message 1 (a full one, large) heard after message 2.
    activity.receive('gateway-1', [['web-01', 5], ['web-02', 1]], true, 1);
    expect(activity.of('web-01').sessions).toBe(3);
    expect(activity.of('web-02').sessions).toBe(1);
    // A newer full message: web-02 is not named, so it has none there now.
    activity.receive('gateway-1', [['web-01', 1]], true, 3);
    expect([activity.of('web-01').sessions, activity.of('web-02').sessions]).toEqual([2, 0]);
    activity.receive('gateway-1', [['web-01', 0]], false, 4);
    activity.receive('gateway-1', [['web-01', 4]], false, 3);
    expect(activity.of('web-01').sessions).toBe(1);
    activity.receive('gateway-2', [['web-01', 2]], false, 1);
    activity.forget('gateway-2');
    expect(activity.of('web-01').sessions).toBe(1);
  });
});
