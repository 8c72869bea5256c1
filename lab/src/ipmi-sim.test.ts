import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startIpmiSim } from './ipmi-sim.js';

/** Gone = no such process, or a zombie (PID 1 here does not reap orphans). */
function gone(pid: number): boolean {
  try {
    return /State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

describe('startIpmiSim', () => {
  it('starts ipmi_sim with its host on free ports and stops exactly what it started', async () => {
    const lab = await startIpmiSim({ powered: true });
    const hostPid = lab.uart.hostPid!;
    expect(lab.port).toBeGreaterThan(0);
    expect(lab.pluginLoaded).toBe(true);
    expect(lab.uart.power).toBe('on');
    expect(gone(lab.pid)).toBe(false);
    expect(gone(hostPid)).toBe(false);
    expect(readFileSync(`/proc/${lab.pid}/cmdline`, 'utf8')).toContain(lab.runDir);
    await lab.stop();
    expect(gone(lab.pid)).toBe(true);
    await expect.poll(() => gone(hostPid), { timeout: 5000 }).toBe(true);
    expect(existsSync(lab.runDir)).toBe(false);
    await lab.stop();
  });
});
