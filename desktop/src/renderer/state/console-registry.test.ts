import { describe, expect, it } from 'vitest';
import { ConsoleRegistry } from './console-registry.js';

describe('console registry', () => {
  it('counts the consoles whose session ended and restarts only those', () => {
    const registry = new ConsoleRegistry();
    const restarted: string[] = [];
    let notified = 0;
    registry.subscribe(() => notified++);
    registry.set('sol:a', { state: 'streaming', restart: () => restarted.push('a') });
    registry.set('serial:b', { state: 'closed', restart: () => restarted.push('b') });
    registry.set('vnc:c', { state: 'failed', restart: () => restarted.push('c') });
    registry.set('sol:d', { state: 'reconnecting', restart: () => restarted.push('d') });
    expect(registry.ended()).toBe(2);
    expect(registry.reconnectEnded()).toBe(2);
    expect(restarted).toEqual(['b', 'c']);
    registry.delete('serial:b');
    expect(registry.ended()).toBe(1);
    expect(notified).toBe(5);
  });
});
