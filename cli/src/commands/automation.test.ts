import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scratchDirectories } from '@lightsout/lab/scratch';
import { ExitCode } from '../exit-codes.js';
import { relayStubs, requestLine, runCli } from '../testing/relay-stub.js';

const relays = relayStubs();
const scratch = scratchDirectories('lightsout-cli-automation-');
afterEach(async () => {
  await relays.closeAll();
  scratch.removeAll();
});
const APPROVAL = { id: 'ap-1', tenant: 'demo', tool: 'power_action', serverId: 'web-01', arguments: { server_id: 'web-01', action: 'off' }, requestedBy: 'bot', status: 'pending', createdAt: '2026-01-01T00:00:00.000Z', expiresAt: '2026-01-01T01:00:00.000Z', decidedBy: null };

describe('lightsout automation', () => {
  it('policy set sends the JSON file with PUT; a file that is not JSON is refused before anything is sent', async () => {
    const directory = scratch.make();
    const policy = { tools: ['list_servers', 'power_action'], approval: { power: ['off'] } };
    writeFileSync(join(directory, 'policy.json'), JSON.stringify(policy));
    writeFileSync(join(directory, 'broken.json'), '{ tools: ');
    const relay = await relays.start((seen) => ({ status: 200, body: { tenant: 'demo', policy: seen.body, updatedAt: null, updatedBy: 'admin' } }));
    const saved = await runCli(['automation', 'policy', 'set', join(directory, 'policy.json'), '--tenant', 'demo'], relay.url);
    expect(saved.code, saved.stderr).toBe(ExitCode.OK);
    expect(saved.stdout).toBe('automation policy of demo saved: list_servers, power_action\n');
    expect(relay.seen.map(requestLine)).toEqual([{ method: 'PUT', url: '/v1/automation/policy?tenant=demo', authorization: 'Bearer t', body: policy }]);
    const refused = await runCli(['automation', 'policy', 'set', join(directory, 'broken.json')], relay.url);
    expect(refused.code).toBe(ExitCode.USAGE);
    expect(relay.seen).toHaveLength(1);
  });

  it('lists pending approvals and approves or denies one by id', async () => {
    const relay = await relays.start((seen) => (seen.method === 'GET' ? { status: 200, body: { approvals: [APPROVAL] } } : { status: 200, body: { ...APPROVAL, status: seen.url.includes('/deny') ? 'denied' : 'approved', decidedBy: 'admin' } }));
    const listed = await runCli(['automation', 'approvals'], relay.url);
    expect(listed.stdout).toMatch(/ap-1\s+pending\s+power_action\s+web-01/);
    expect(relay.seen[0]).toMatchObject({ method: 'GET', url: '/v1/automation/approvals?status=pending' });
    const approved = await runCli(['automation', 'approve', 'ap-1'], relay.url);
    expect(approved.stdout).toBe('ap-1: approved (power_action on web-01, requested by bot)\n');
    expect(relay.seen.at(-1)).toMatchObject({ method: 'POST', url: '/v1/automation/approvals/ap-1/approve' });
    expect((await runCli(['automation', 'deny', 'ap-1'], relay.url)).stdout).toContain('ap-1: denied');
  });
});
