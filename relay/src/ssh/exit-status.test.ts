import { ERROR_CODES, type ErrorCode, StreamCloseCode } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { closeCodeFor } from '../plugins/streams/gateway.js';
import { SshExitStatus, exitStatusOf } from './exit-status.js';

describe('a BMC failure, said alike by a console and an SSH console', () => {
  it('closes a console with BMC_UNREACHABLE and exits an SSH console with UNAVAILABLE, whichever BMC failure it was', () => {
    const bmcCodes = (Object.keys(ERROR_CODES) as ErrorCode[]).filter((code) => code.startsWith('BMC_'));
    expect(bmcCodes).toContain('BMC_CERT_MISMATCH');
    for (const code of bmcCodes) {
      expect([code, closeCodeFor(code)]).toEqual([code, StreamCloseCode.BMC_UNREACHABLE]);
      expect([code, exitStatusOf(code)]).toEqual([code, SshExitStatus.UNAVAILABLE]);
    }
    expect(closeCodeFor('AGENT_OFFLINE')).toBe(StreamCloseCode.AGENT_OFFLINE);
    expect(exitStatusOf('AGENT_TIMEOUT')).toBe(SshExitStatus.UNAVAILABLE);
    expect(exitStatusOf('NOT_FOUND')).toBe(SshExitStatus.NOT_FOUND);
  });
});
