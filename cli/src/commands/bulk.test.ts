import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../exit-codes.js';
import { relayStubs, runCli, type SeenRequest } from '../testing/relay-stub.js';

const relays = relayStubs();
afterEach(relays.closeAll);

/** A relay stand-in: a dry run names three servers; the job reports one result per poll, web-03 failing. */
async function bulkRelay() {
  let polls = 0;
  const servers = ['web-01', 'web-02', 'web-03'].map((id) => ({ id, name: id, agentId: 'agent-1', rack: 'r1', datacenter: 'fra1', power: 'on' }));
  const results = [
    { serverId: 'web-02', ok: true, seconds: 1.5, data: { power: 'on' } },
    { serverId: 'web-01', ok: true, seconds: 1.7, data: { power: 'on' } },
    { serverId: 'web-03', ok: false, code: 'BMC_UNREACHABLE', message: 'no answer from 10.0.0.3', seconds: 5 },
  ];
  return relays.start((entry) => {
    if (entry.method === 'POST' && fieldsOf(entry)?.['dryRun'] === true) return { status: 200, body: { jobId: null, dryRun: true, total: 3, servers } };
    if (entry.method === 'POST') return { status: 202, body: { jobId: 'job-1', dryRun: false, total: 3 } };
    polls += 1;
    const done = results.slice(0, Math.min(polls, 3));
    const failed = done.filter((result) => !result.ok).length;
    return { status: 200, body: { id: 'job-1', state: done.length === 3 ? 'finished' : 'running', operation: entry.body, selector: {}, total: 3, succeeded: done.length - failed, failed, createdAt: '2026-12-05T04:00:00.000Z', finishedAt: null, results: done } };
  });
}

/** The JSON object the CLI sent, to read one field of. */
const fieldsOf = (entry: SeenRequest) => entry.body as Record<string, unknown> | undefined;

/** The command, its confirmation answered `answer`, and the questions it asked. */
async function cli(argv: string[], relayUrl: string, answer = false) {
  const questions: string[] = [];
  const result = await runCli(argv, relayUrl, {
    confirm: async (question) => {
      questions.push(question);
      return answer;
    },
  });
  return { ...result, questions };
}

describe('lightsout power <action> with a selector (one bulk job)', () => {
  it('shows the resolved count, asks, runs one job and prints each server; exit 7 when one failed', async () => {
    const relay = await bulkRelay();
    const result = await cli(['power', 'cycle', '--selector', 'role=web,tier=front', '--datacenter', 'fra1'], relay.url, true);
    expect(result.questions).toEqual(['power cycle on 3 servers?']);
    expect(result.stderr).toContain('power cycle: 3 servers\n');
    const posts = relay.seen.filter((entry) => entry.method === 'POST');
    const selector = { labels: { role: 'web', tier: 'front' }, datacenter: 'fra1' };
    expect(posts.map((entry) => entry.body)).toEqual([
      { selector, operation: { kind: 'power', action: 'cycle' }, dryRun: true },
      { selector, operation: { kind: 'power', action: 'cycle' } },
    ]);
    expect(relay.seen.filter((entry) => entry.method === 'GET').map((entry) => entry.url)).toEqual(['/v1/bulk/job-1', '/v1/bulk/job-1', '/v1/bulk/job-1']);
    expect(result.stdout.split('\n').slice(1, 4).map((line) => line.split(/\s+/).slice(0, 2).join(' '))).toEqual(['web-01 ok', 'web-02 ok', 'web-03 BMC_UNREACHABLE']);
    expect(result.stdout).toContain('power cycle: 2 of 3 succeeded, 1 failed\n');
    expect(result.code).toBe(ExitCode.BULK_FAILED);
  }, 15_000);

  it('does nothing when not confirmed, and scripts say --yes', async () => {
    const relay = await bulkRelay();
    const refused = await cli(['power', 'off', '--rack', 'r1'], relay.url, false);
    expect(refused.code).toBe(ExitCode.USAGE);
    expect(refused.stderr).toMatch(/error BAD_REQUEST: not confirmed: nothing was done\nhint: .*--yes/);
    expect(relay.seen.filter((entry) => entry.method === 'POST' && fieldsOf(entry)?.['dryRun'] !== true)).toHaveLength(0);
    const scripted = await cli(['power', 'off', '--rack', 'r1', '--yes', '--json'], relay.url, false);
    expect(scripted.questions).toEqual([]);
    expect(JSON.parse(scripted.stdout)).toMatchObject({ id: 'job-1', state: 'finished', failed: 1 });
  }, 15_000);

  it('lists the servers with --dry-run; refuses a server id together with a selector', async () => {
    const relay = await bulkRelay();
    const dry = await cli(['boot', 'pxe', '--ids', 'web-01,web-02,web-03', '--dry-run'], relay.url);
    expect(dry.code).toBe(ExitCode.OK);
    expect(dry.stdout.split('\n')[1]).toMatch(/^web-01\s+web-01\s+r1\s+fra1\s+on$/);
    expect(relay.seen).toHaveLength(1);
    expect(relay.seen[0]!.body).toEqual({ selector: { ids: ['web-01', 'web-02', 'web-03'] }, operation: { kind: 'boot', device: 'pxe', persistent: false }, dryRun: true });
    expect((await cli(['power', 'cycle', 'web-01', '--rack', 'r1'], relay.url)).code).toBe(ExitCode.USAGE);
    expect((await cli(['power', 'cycle', '--selector', 'role'], relay.url)).code).toBe(ExitCode.USAGE);
  });
});
