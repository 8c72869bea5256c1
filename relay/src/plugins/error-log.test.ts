import { Writable } from 'node:stream';
import { LightsoutError } from '@lightsout/shared';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import errorsPlugin from './errors.js';

/**
 * What the relay logs when a request fails: a BMC's or agent's ordinary
 * refusal (the BMC answered 401, has no log service, does not know the
 * command; the agent is offline) is a warning with the peer's reason and no
 * stack — an operator reading the log acts on it, nothing in the relay broke.
 * The relay's own faults stay errors with their stack.
 */
async function relayWithLog() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const app = Fastify({ logger: { level: 'info', stream } });
  await app.register(errorsPlugin);
  app.get('/bmc-refusal', async () => {
    throw new LightsoutError('BMC_UNSUPPORTED', 'BMC answered GET /redfish/v1/Systems/1/LogServices with 404: no log service');
  });
  app.get('/agent-offline', async () => {
    throw new LightsoutError('AGENT_OFFLINE', 'the agent of web-01 is not connected');
  });
  app.get('/bug', async () => {
    throw new TypeError('boom');
  });
  await app.ready();
  return { app, lines };
}

describe('relay error log', () => {
  it.each([
    ['/bmc-refusal', 'BMC_UNSUPPORTED', 'no log service'],
    ['/agent-offline', 'AGENT_OFFLINE', 'not connected'],
  ])('logs %s as a warning with the reason and no stack', async (url, code, reason) => {
    const { app, lines } = await relayWithLog();
    const response = await app.inject({ method: 'GET', url });
    expect(response.json()).toMatchObject({ code });
    const failure = lines.filter((line) => typeof line['code'] === 'string' || line['err'] !== undefined);
    expect(failure).toHaveLength(1);
    expect(failure[0]).toMatchObject({ level: 40, code, reason: expect.stringContaining(reason) });
    expect(JSON.stringify(failure[0])).not.toContain('stack');
    await app.close();
  });

  it('logs the relay\'s own fault as an error with its stack', async () => {
    const { app, lines } = await relayWithLog();
    const response = await app.inject({ method: 'GET', url: '/bug' });
    expect(response.statusCode).toBe(500);
    const failure = lines.find((line) => line['err'] !== undefined);
    expect(failure).toMatchObject({ level: 50 });
    expect((failure!['err'] as { stack?: string }).stack).toMatch(/TypeError: boom/);
    await app.close();
  });
});
