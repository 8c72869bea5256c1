import type { PowerState } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { ServerActivity } from './activity.js';
import { ServerEvents } from './events.js';
import { PowerConfirmations } from './power-confirm.js';

/**
 * The confirmation of a power action the BMC accepted, with scripted reads:
 * the server is pending until the BMC reports the target; a deadline that
 * passes first ends it as not confirmed (never as done), and a newer action
 * on the same server replaces the older one.
 */
function confirmations(reads: () => PowerState, deadlines: { off?: number; cycle?: number } = {}) {
  const activity = new ServerActivity(new ServerEvents());
  const recorded: PowerState[] = [];
  const confirm = new PowerConfirmations({ read: async () => reads(), record: async (_serverId, power) => void recorded.push(power), activity, intervals: [5], deadlines });
  return { confirm, activity, recorded };
}

describe('power confirmations', () => {
  it('stays pending while the BMC reports the old state, then ends as not confirmed at the deadline, every read recorded', async () => {
    const { confirm, activity, recorded } = confirmations(() => 'on', { off: 200 });
    const { pending, settled } = confirm.start('web-01', 'off', 'on');
    expect(activity.of('web-01').pendingPower).toEqual(pending);
    const outcome = await settled;
    expect(outcome).toMatchObject({ action: 'off', target: 'off', confirmed: false });
    expect(outcome.seconds).toBeGreaterThanOrEqual(0.2);
    expect(activity.of('web-01')).toMatchObject({ pendingPower: null, lastPower: outcome });
    expect(recorded.length).toBeGreaterThanOrEqual(2);
    expect(new Set(recorded)).toEqual(new Set(['on']));
    confirm.stop();
  });

  it('confirms a cycle only after its off phase was seen', async () => {
    const states: PowerState[] = ['on', 'off', 'on'];
    const { confirm, recorded } = confirmations(() => states.shift() ?? 'on', { cycle: 5000 });
    expect(await confirm.start('web-01', 'cycle', 'on').settled).toMatchObject({ action: 'cycle', confirmed: true });
    expect(recorded).toEqual(['on', 'off', 'on']);
    confirm.stop();
  });

  it('lets a newer action on the same server replace the one still pending', async () => {
    const { confirm, activity } = confirmations(() => 'on', { off: 5000 });
    const first = confirm.start('web-01', 'off', 'on');
    const second = confirm.start('web-01', 'cycle', 'on');
    expect(activity.of('web-01').pendingPower).toEqual(second.pending);
    expect(await first.settled).toMatchObject({ action: 'off', confirmed: false });
    // the replaced confirmation leaves the newer one's pending state alone
    expect(activity.of('web-01').pendingPower).toEqual(second.pending);
    confirm.stop();
  });
});
