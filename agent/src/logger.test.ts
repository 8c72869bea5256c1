import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { exitAfterLoggingWithoutReader } from '@lightsout/lab/tracked-process';
import { createLogger } from './logger.js';

describe('agent logger', () => {
  it('redacts passwords, credentials, tokens and authorization headers wherever they sit', () => {
    let output = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        output += chunk.toString();
        callback();
      },
    });
    const logger = createLogger('info', sink);
    logger.info({ password: 'p1', server: { ipmi: { credentials: { username: 'admin', password: 'p2' } } } }, 'config');
    logger.info({ joinToken: 'jt-secret', request: { headers: { authorization: 'Bearer jwt-secret' } }, token: 't-secret' }, 'connect');
    logger.info({ credentials: { username: 'u', password: 'p3' }, vnc: { credentials: 'ref' } }, 'endpoint');
    for (const secret of ['p1', 'p2', 'p3', 'jt-secret', 'jwt-secret', 't-secret']) expect(output).not.toContain(secret);
    expect(output.match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(6);
  });

  it('lets the process exit when nobody reads its stdout any more', async () => {
    // Lines logged just before exit(), after the reader went away: an asynchronous destination would
    // still hold them at exit and retry writing them forever.
    expect(await exitAfterLoggingWithoutReader(new URL('./logger.ts', import.meta.url))).toBe(0);
  }, 30_000);
});
