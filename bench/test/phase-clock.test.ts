import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PhaseClock, processCpuSeconds } from '../lib/phase-clock.js';

describe('PhaseClock', () => {
  it('gives each phase its wall time and the CPU each process spent in it; a process not yet there counts nothing', () => {
    const later: { pid?: number } = {};
    const clock = new PhaseClock({ self: 'self', proc: () => process.pid, later: () => later.pid });
    clock.mark('start');
    // work this process does in the phase: hashing 64 MiB takes tens of milliseconds of CPU
    const hash = createHash('sha256');
    const block = Buffer.alloc(1024 * 1024, 7);
    for (let index = 0; index < 64; index += 1) hash.update(block);
    hash.digest();
    clock.mark('work');
    later.pid = process.pid;
    clock.mark('work'); // a mark is taken once: the first time counts
    clock.mark('idle');
    clock.amend('idle', 'later', 5);
    const phases = clock.phases();
    expect(phases.map((phase) => phase.name)).toEqual(['work', 'idle']);
    const [work, idle] = phases;
    expect(work!.wallSeconds).toBeGreaterThan(0);
    expect(work!.cpuSeconds['self']).toBeGreaterThan(0.005);
    expect(work!.cpuSeconds['later']).toBeUndefined();
    expect(idle!.cpuSeconds['later']).toBeUndefined();
    expect(processCpuSeconds(process.pid)).toBeGreaterThan(0);
  });
});
