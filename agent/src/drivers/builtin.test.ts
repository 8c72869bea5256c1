import { describe, expect, it } from 'vitest';
import { ipmiIdleCloseMs } from './builtin.js';

describe('the IPMI command session idle close', () => {
  it('outlasts the poll interval when that fits inside a BMC\'s 60 s session timeout, so each poll reuses the last one\'s session', () => {
    expect(ipmiIdleCloseMs(30_000)).toBe(35_000);
    expect(ipmiIdleCloseMs(45_000)).toBe(50_000);
    expect(ipmiIdleCloseMs(5_000)).toBe(20_000);
  });

  it('stays at 20 s when the interval is too long to bridge (the BMC would end the session first) or unknown', () => {
    expect(ipmiIdleCloseMs(60_000)).toBe(20_000);
    expect(ipmiIdleCloseMs(undefined)).toBe(20_000);
  });
});
