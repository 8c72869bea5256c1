import { describe, expect, it } from 'vitest';
import { ReadGate } from './read-gate.js';

function harness(quantumBytes: number) {
  const calls: string[] = [];
  const turns: (() => void)[] = [];
  const gate = new ReadGate({ pause: () => void calls.push('pause'), resume: () => void calls.push('resume') }, { quantumBytes, afterTurn: (callback) => void turns.push(callback) });
  const endTurn = () => {
    for (const callback of turns.splice(0)) callback();
  };
  return { gate, calls, endTurn, turns };
}

describe('ReadGate', () => {
  it('yields a source that used up its share of the turn, and reads it again next turn', () => {
    const { gate, calls, endTurn } = harness(128);
    gate.consumed(64);
    expect(calls).toEqual([]);
    gate.consumed(64);
    expect(calls).toEqual(['pause']);
    endTurn();
    expect(calls).toEqual(['pause', 'resume']);
    // A fresh share: 127 bytes in the new turn do not pause it.
    gate.consumed(127);
    expect(calls).toEqual(['pause', 'resume']);
  });

  it('schedules one end-of-turn callback per turn, and only for a source that delivered', () => {
    const { gate, turns, endTurn } = harness(1 << 20);
    expect(turns).toHaveLength(0);
    gate.consumed(10);
    gate.consumed(10);
    expect(turns).toHaveLength(1);
    endTurn();
    gate.consumed(10);
    expect(turns).toHaveLength(1);
  });

  it('keeps a source paused while backpressure holds, whatever the turn does', () => {
    const { gate, calls, endTurn } = harness(100);
    gate.consumed(100);
    gate.set('backpressure', true);
    endTurn();
    expect(calls).toEqual(['pause']);
    expect(gate.isHeld).toBe(true);
    gate.set('backpressure', false);
    expect(calls).toEqual(['pause', 'resume']);
    expect(gate.isHeld).toBe(false);
  });

  it('lets go of a source it paused when stopped (a closing socket must read its close frame)', () => {
    const { gate, calls, endTurn } = harness(10);
    gate.consumed(10);
    gate.stop();
    endTurn();
    expect(calls).toEqual(['pause', 'resume']);
  });

  it('never pauses or resumes a stopped source', () => {
    const { gate, calls, endTurn } = harness(10);
    gate.consumed(5);
    gate.stop();
    gate.consumed(50);
    gate.set('backpressure', true);
    endTurn();
    expect(calls).toEqual([]);
  });
});

describe('ReadGate over a source handed over paused', () => {
  it('stays paused until its owner releases it, then reads', () => {
    const calls: string[] = [];
    const gate = new ReadGate({ pause: () => void calls.push('pause'), resume: () => void calls.push('resume') }, { quantumBytes: 10, afterTurn: () => {} }, { paused: true });
    expect(gate.isHeld).toBe(true);
    gate.set('turn', false);
    expect(calls).toEqual([]);
    gate.set('backpressure', false);
    expect(calls).toEqual(['resume']);
  });
});
