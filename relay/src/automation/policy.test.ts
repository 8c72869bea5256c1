import { LightsoutError, READ_ONLY_TOOLS } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { compilePolicy, consoleLineRefusal } from './policy.js';

describe('automation policy', () => {
  it('is read-only tools, no console input and no approvals when empty', () => {
    const policy = compilePolicy({});
    expect([...policy.tools]).toEqual([...READ_ONLY_TOOLS]);
    expect(policy.approvalPower.size).toBe(0);
    expect(consoleLineRefusal(policy, 'uptime')).toMatch(/no allow pattern/);
    expect([...compilePolicy(undefined).tools]).toEqual([...READ_ONLY_TOOLS]);
  });

  it('lets deny win over allow, and judges every line afresh', () => {
    const policy = compilePolicy({ console: { allow: ['^(uptime|systemctl status .*|reboot)$'], deny: ['reboot', 'rm\\s'] } });
    expect(consoleLineRefusal(policy, 'uptime')).toBeUndefined();
    expect(consoleLineRefusal(policy, 'uptime')).toBeUndefined();
    expect(consoleLineRefusal(policy, 'systemctl status nginx')).toBeUndefined();
    expect(consoleLineRefusal(policy, 'reboot')).toMatch(/deny pattern reboot/);
    expect(consoleLineRefusal(policy, 'ls')).toMatch(/no allow pattern/);
  });

  it('refuses multi-line input and control characters unless allowed', () => {
    const strict = compilePolicy({ console: { allow: ['.*'] } });
    expect(consoleLineRefusal(strict, 'uptime\nreboot')).toMatch(/multi-line/);
    expect(consoleLineRefusal(strict, 'uptime\rreboot')).toMatch(/multi-line/);
    expect(consoleLineRefusal(strict, 'vi\u001b:q!')).toMatch(/control characters/);
    expect(consoleLineRefusal(strict, '\u0003')).toMatch(/control characters/);
    expect(consoleLineRefusal(strict, 'a\tb')).toBeUndefined();
    const loose = compilePolicy({ console: { allow: ['[\\s\\S]*'], allowMultiline: true, allowControl: true } });
    expect(consoleLineRefusal(loose, 'uptime\nreboot')).toBeUndefined();
    expect(consoleLineRefusal(loose, '\u0003')).toBeUndefined();
  });

  it('refuses a pattern that is not a regular expression with VALIDATION_FAILED', () => {
    const error = (() => {
      try {
        compilePolicy({ console: { deny: ['[unclosed'] } });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(LightsoutError);
    expect((error as LightsoutError).code).toBe('VALIDATION_FAILED');
  });
});
