import { describe, expect, it } from 'vitest';
import { type Pausable, TurnScheduler, type TurnSchedulerOptions } from './read-gate.js';

/** A scheduler whose turns end when the test says so, and sources that log their pauses. */
function harness(options: Partial<Omit<TurnSchedulerOptions, 'afterTurn'>> = {}) {
  const turns: (() => void)[] = [];
  const scheduler = new TurnScheduler({ quantumBytes: 128, turnBytes: 1 << 20, lightBytes: 0, ...options, afterTurn: (callback) => void turns.push(callback) });
  const endTurn = () => {
    for (const callback of turns.splice(0)) callback();
  };
  const source = (calls: string[] = []): Pausable & { calls: string[] } => ({ calls, pause: () => void calls.push('pause'), resume: () => void calls.push('resume') });
  return { scheduler, turns, endTurn, source };
}

describe('ReadGate under a TurnScheduler', () => {
  it('yields a source that used up its share of the turn, and reads it again next turn', () => {
    const { scheduler, endTurn, source } = harness();
    const port = source();
    const gate = scheduler.gate(port);
    gate.consumed(64);
    expect(port.calls).toEqual([]);
    gate.consumed(64);
    expect(port.calls).toEqual(['pause']);
    endTurn();
    expect(port.calls).toEqual(['pause', 'resume']);
    // A fresh share: 127 bytes in the new turn do not pause it.
    gate.consumed(127);
    expect(port.calls).toEqual(['pause', 'resume']);
  });

  it('schedules one end-of-turn callback per turn, and only once something was read', () => {
    const { scheduler, turns, endTurn, source } = harness({ quantumBytes: 1 << 20 });
    const gate = scheduler.gate(source());
    expect(turns).toHaveLength(0);
    gate.consumed(10);
    scheduler.gate(source()).consumed(10);
    expect(turns).toHaveLength(1);
    endTurn();
    expect(turns).toHaveLength(0);
    gate.consumed(10);
    expect(turns).toHaveLength(1);
  });

  it('keeps a source paused while backpressure holds, whatever the turn does', () => {
    const { scheduler, endTurn, source } = harness({ quantumBytes: 100 });
    const port = source();
    const gate = scheduler.gate(port);
    gate.consumed(100);
    gate.set('backpressure', true);
    endTurn();
    expect(port.calls).toEqual(['pause']);
    expect(gate.isHeld).toBe(true);
    gate.set('backpressure', false);
    expect(port.calls).toEqual(['pause', 'resume']);
    expect(gate.isHeld).toBe(false);
  });

  it('lets go of a source it paused when stopped (a closing socket must read its close frame)', () => {
    const { scheduler, endTurn, source } = harness({ quantumBytes: 10 });
    const port = source();
    const gate = scheduler.gate(port);
    gate.consumed(10);
    gate.stop();
    expect(scheduler.waitingCount).toBe(0);
    endTurn();
    expect(port.calls).toEqual(['pause', 'resume']);
  });

  it('never pauses or resumes a stopped source', () => {
    const { scheduler, endTurn, source } = harness({ quantumBytes: 10 });
    const port = source();
    const gate = scheduler.gate(port);
    gate.consumed(5);
    gate.stop();
    gate.consumed(50);
    gate.set('backpressure', true);
    endTurn();
    expect(port.calls).toEqual([]);
  });

  it('keeps a source handed over paused until its owner releases it', () => {
    const { scheduler, source } = harness({ quantumBytes: 10 });
    const port = source();
    const gate = scheduler.gate(port, { paused: true });
    expect(gate.isHeld).toBe(true);
    gate.set('turn', false);
    expect(port.calls).toEqual([]);
    gate.set('backpressure', false);
    expect(port.calls).toEqual(['resume']);
  });
});

describe('TurnScheduler across sources', () => {
  it('once the turn budget is spent, yields heavy sources but keeps reading light (interactive) ones', () => {
    const { scheduler, source } = harness({ quantumBytes: 1000, turnBytes: 1000, lightBytes: 100 });
    const bulk = [source(), source(), source()];
    const bulkGates = bulk.map((port) => scheduler.gate(port));
    const keys = source();
    const keyGate = scheduler.gate(keys);
    bulkGates[0]!.consumed(600);
    bulkGates[1]!.consumed(400); // the turn's 1000 bytes are spent: this heavy source yields
    expect(bulk[0]!.calls).toEqual([]);
    expect(bulk[1]!.calls).toEqual(['pause']);
    keyGate.consumed(1);
    keyGate.consumed(1);
    expect(keys.calls).toEqual([]);
    bulkGates[2]!.consumed(50); // below lightBytes so far: still read
    expect(bulk[2]!.calls).toEqual([]);
    bulkGates[2]!.consumed(50);
    expect(bulk[2]!.calls).toEqual(['pause']);
    bulkGates[0]!.consumed(100);
    expect(bulk[0]!.calls).toEqual(['pause']);
    expect(scheduler.waitingCount).toBe(3);
  });

  it('wakes only as many waiting sources per turn as the budget holds, oldest first, until all had a turn', () => {
    const { scheduler, endTurn, turns, source } = harness({ quantumBytes: 100, turnBytes: 200, lightBytes: 10 });
    const ports = Array.from({ length: 5 }, () => source());
    const gates = ports.map((port) => scheduler.gate(port));
    for (const gate of gates) gate.consumed(100);
    expect(scheduler.waitingCount).toBe(5);
    const resumed = () => ports.map((port, index) => (port.calls.at(-1) === 'resume' ? index : -1)).filter((index) => index >= 0);

    endTurn();
    expect(resumed()).toEqual([0, 1]);
    // Nothing was read in that turn, yet the others still get theirs.
    expect(turns).toHaveLength(1);
    endTurn();
    expect(resumed()).toEqual([0, 1, 2, 3]);
    // Source 0 reads its quantum again: it queues behind source 4.
    gates[0]!.consumed(100);
    endTurn();
    expect(resumed()).toEqual([0, 1, 2, 3, 4]);
    expect(scheduler.waitingCount).toBe(0);
    expect(turns).toHaveLength(0);
  });

  it('a source that stops while waiting gives its place to the next', () => {
    const { scheduler, endTurn, source } = harness({ quantumBytes: 100, turnBytes: 100, lightBytes: 10 });
    const ports = [source(), source()];
    const gates = ports.map((port) => scheduler.gate(port));
    gates[0]!.consumed(100);
    gates[1]!.consumed(100);
    gates[0]!.stop();
    endTurn();
    expect(ports[1]!.calls).toEqual(['pause', 'resume']);
  });
});
