import { afterEach, describe, expect, it, vi } from 'vitest';
import { runBulkJob } from './bulk-job.js';
import { RelayClient } from './relay-client.js';

const client = () => new RelayClient({ baseUrl: 'https://relay.test', accessToken: async () => 'token', stepUp: async () => false, unauthenticated: () => undefined });

afterEach(() => vi.unstubAllGlobals());

describe('runBulkJob', () => {
  it('sends one POST /v1/bulk for the selection, then follows the job until it has finished', async () => {
    const running = { id: 'job-1', state: 'running', total: 2, succeeded: 1, failed: 0, results: [{ serverId: 'a', ok: true, seconds: 1 }] };
    const finished = { ...running, state: 'finished', failed: 1, results: [...running.results, { serverId: 'b', ok: false, code: 'BMC_TIMEOUT', message: 'slow', seconds: 5 }] };
    const answers = [{ status: 202, body: { jobId: 'job-1', dryRun: false, total: 2 } }, { status: 200, body: running }, { status: 200, body: finished }];
    const calls: Array<{ url: string; method: string; body: unknown }> = [];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      calls.push({ url, method: init.method ?? 'GET', body: init.body === undefined ? undefined : JSON.parse(String(init.body)) });
      const answer = answers.shift()!;
      return new Response(JSON.stringify(answer.body), { status: answer.status, headers: { 'content-type': 'application/json' } });
    });
    const progress: number[] = [];
    const view = await runBulkJob(client(), ['a', 'b'], { kind: 'power', action: 'on' }, (reading) => progress.push(reading.results.length), async () => undefined);
    expect(calls.map((call) => `${call.method} ${call.url}`)).toEqual(['POST https://relay.test/v1/bulk', 'GET https://relay.test/v1/bulk/job-1', 'GET https://relay.test/v1/bulk/job-1']);
    expect(calls[0]!.body).toEqual({ selector: { ids: ['a', 'b'] }, operation: { kind: 'power', action: 'on' } });
    expect(progress).toEqual([1, 2]);
    expect(view).toMatchObject({ state: 'finished', failed: 1 });
  });
});
