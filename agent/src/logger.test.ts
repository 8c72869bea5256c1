import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { runWithoutReader } from '@lightsout/lab/tracked-process';
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
    const script = `import { createLogger } from ${JSON.stringify(new URL('./logger.ts', import.meta.url).href)};
      const logger = createLogger('info');
      for (let line = 0; line < 5; line++) logger.info({ line }, 'stopping');
      process.exit(0);`;
    expect(await runWithoutReader(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], process.env, 20_000)).toBe(0);
  }, 30_000);
});
