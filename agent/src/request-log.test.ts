import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { LightsoutError } from '@lightsout/shared';
import { logRequestFailure } from './agent.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

describe('request failure log', () => {
  it("logs a BMC's ordinary refusal as a warning with the BMC's reason and no stack", () => {
    const { logger, lines } = capture();
    const refusal = new LightsoutError('BMC_AUTH_FAILED', 'BMC answered GET /redfish/v1/Systems with 401: no valid session', { details: { status: 401, messages: ['There is no valid session established with the implementation.'] } });
    logRequestFailure(logger, 'sel.list', 'web-01', refusal);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, code: 'BMC_AUTH_FAILED', serverId: 'web-01', bmcMessages: ['There is no valid session established with the implementation.'] });
    expect(JSON.stringify(lines[0])).not.toContain('stack');
  });

  it('keeps the stack of anything that is not a BMC answer (a bug)', () => {
    const { logger, lines } = capture();
    logRequestFailure(logger, 'sel.list', 'web-01', new TypeError('boom'));
    expect(lines[0]).toMatchObject({ level: 50, err: { type: 'TypeError', message: 'boom' } });
    expect((lines[0]!.err as { stack?: string }).stack).toMatch(/TypeError: boom/);
  });
});
