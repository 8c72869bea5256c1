import type { PendingPower, PowerOutcome, PowerState } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { PowerConfirmations } from './power-confirm.js';

/**
 * The confirmation of a power action the BMC accepted, with scripted reads:
 * the server is pending until the BMC reports the target; a deadline that
 * passes first ends it as not confirmed (never as done), and a newer action
 * on the same server replaces the older one.
 */
/** What the server's row keeps (live-status.ts), as a map: a settle changes it only while its own action is the pending one. */
class Kept {
  private readonly rows = new Map<string, { pendingPower: PendingPower | null; lastPower: PowerOutcome | null; key: string | null }>();

  of(serverId: string): { pendingPower: PendingPower | null; lastPower: PowerOutcome | null } {
    const { pendingPower, lastPower } = this.rows.get(serverId) ?? { pendingPower: null, lastPower: null };
    return { pendingPower, lastPower };
  }

  async powerPending(serverId: string, pending: PendingPower, until: number): Promise<void> {
    this.rows.set(serverId, { ...this.of(serverId), pendingPower: pending, key: JSON.stringify([pending, until]) });
  }

  async powerSettled(serverId: string, pending: PendingPower, until: number, outcome: PowerOutcome): Promise<void> {
    if (this.rows.get(serverId)?.key === JSON.stringify([pending, until])) this.rows.set(serverId, { pendingPower: null, lastPower: outcome, key: null });
  }
}

function confirmations(reads: () => PowerState, deadlines: { off?: number; cycle?: number } = {}) {
  const activity = new Kept();
  const recorded: PowerState[] = [];
  const confirm = new PowerConfirmations({ read: async () => reads(), record: async (_serverId, power) => void recorded.push(power), status: activity, intervals: [5], deadlines });
  return { confirm, activity, recorded };
}

describe('power confirmations', () => {
  it('stays pending while the BMC reports the old state, then ends as not confirmed at the deadline, every read recorded', async () => {
    const { confirm, activity, recorded } = confirmations(() => 'on', { off: 200 });
    const { pending, noted, settled } = confirm.start('web-01', 'off', 'on');
    await noted;
    expect(activity.of('web-01').pendingPower).toEqual(pending);
    const outcome = await settled;
    expect(outcome).toMatchObject({ action: 'off', target: 'off', confirmed: false });
    expect(outcome.seconds).toBeGreaterThanOrEqual(0.2);
    expect(activity.of('web-01')).toMatchObject({ pendingPower: null, lastPower: outcome });
    expect(recorded.length).toBeGreaterThanOrEqual(2);
    expect(new Set(recorded)).toEqual(new Set(['on']));
    await confirm.stop();
  });

  it('confirms a cycle only after its off phase was seen', async () => {
    const states: PowerState[] = ['on', 'off', 'on'];
    const { confirm, recorded } = confirmations(() => states.shift() ?? 'on', { cycle: 5000 });
    expect(await confirm.start('web-01', 'cycle', 'on').settled).toMatchObject({ action: 'cycle', confirmed: true });
    expect(recorded).toEqual(['on', 'off', 'on']);
    await confirm.stop();
  });

  it('lets a newer action on the same server replace the one still pending', async () => {
    const { confirm, activity } = confirmations(() => 'on', { off: 5000 });
    const first = confirm.start('web-01', 'off', 'on');
    const second = confirm.start('web-01', 'cycle', 'on');
    await second.noted;
    expect(activity.of('web-01').pendingPower).toEqual(second.pending);
    expect(await first.settled).toMatchObject({ action: 'off', confirmed: false });
    // the replaced confirmation leaves the newer one's pending state alone
    expect(activity.of('web-01').pendingPower).toEqual(second.pending);
    await confirm.stop();
  });

  it('a relay stopping with a confirmation out stores it as not confirmed: the server does not stay pending elsewhere', async () => {
    const { confirm, activity } = confirmations(() => 'on', { off: 60_000 });
    const { pending, noted, settled } = confirm.start('web-01', 'off', 'on');
    await noted;
    expect(activity.of('web-01').pendingPower).toEqual(pending);
    await confirm.stop(5000);
    expect(activity.of('web-01')).toMatchObject({ pendingPower: null, lastPower: { action: 'off', confirmed: false } });
    expect(await settled).toMatchObject({ confirmed: false });
  });
});
