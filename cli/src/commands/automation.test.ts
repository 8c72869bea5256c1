import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../exit-codes.js';
import { run } from '../main.js';

interface Seen {
  method: string;
  url: string;
  body: unknown;
}

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** A relay stand-in on loopback that records what the CLI sent. */
async function fakeRelay(answer: (seen: Seen) => { status: number; body: unknown }) {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const entry = { method: request.method ?? 'GET', url: request.url ?? '', body: text ? (JSON.parse(text) as unknown) : undefined };
      seen.push(entry);
      const { status, body } = answer(entry);
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function cli(argv: string[], relayUrl: string) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { env: { LIGHTSOUT_TOKEN: 't', LIGHTSOUT_RELAY: relayUrl }, output: { out: (text) => (stdout += text), err: (text) => (stderr += text) } });
  return { code, stdout, stderr };
}

const APPROVAL = { id: 'ap-1', tenant: 'demo', tool: 'power_action', serverId: 'web-01', arguments: { server_id: 'web-01', action: 'off' }, requestedBy: 'bot', status: 'pending', createdAt: '2026-01-01T00:00:00.000Z', expiresAt: '2026-01-01T01:00:00.000Z', decidedBy: null };

describe('lightsout automation', () => {
  it('policy set sends the JSON file with PUT; a file that is not JSON is refused before anything is sent', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'lightsout-cli-automation-'));
    closers.push(() => rmSync(directory, { recursive: true, force: true }));
    const policy = { tools: ['list_servers', 'power_action'], approval: { power: ['off'] } };
    writeFileSync(join(directory, 'policy.json'), JSON.stringify(policy));
    writeFileSync(join(directory, 'broken.json'), '{ tools: ');
    const relay = await fakeRelay((seen) => ({ status: 200, body: { tenant: 'demo', policy: seen.body, updatedAt: null, updatedBy: 'admin' } }));
    const saved = await cli(['automation', 'policy', 'set', join(directory, 'policy.json'), '--tenant', 'demo'], relay.url);
    expect(saved.code, saved.stderr).toBe(ExitCode.OK);
    expect(saved.stdout).toBe('automation policy of demo saved: list_servers, power_action\n');
    expect(relay.seen).toEqual([{ method: 'PUT', url: '/v1/automation/policy?tenant=demo', body: policy }]);
    const refused = await cli(['automation', 'policy', 'set', join(directory, 'broken.json')], relay.url);
    expect(refused.code).toBe(ExitCode.USAGE);
    expect(relay.seen).toHaveLength(1);
  });

  it('lists pending approvals and approves or denies one by id', async () => {
    const relay = await fakeRelay((seen) => (seen.method === 'GET' ? { status: 200, body: { approvals: [APPROVAL] } } : { status: 200, body: { ...APPROVAL, status: seen.url.includes('/deny') ? 'denied' : 'approved', decidedBy: 'admin' } }));
    const listed = await cli(['automation', 'approvals'], relay.url);
    expect(listed.stdout).toMatch(/ap-1\s+pending\s+power_action\s+web-01/);
    expect(relay.seen[0]).toMatchObject({ method: 'GET', url: '/v1/automation/approvals?status=pending' });
    const approved = await cli(['automation', 'approve', 'ap-1'], relay.url);
    expect(approved.stdout).toBe('ap-1: approved (power_action on web-01, requested by bot)\n');
    expect(relay.seen.at(-1)).toMatchObject({ method: 'POST', url: '/v1/automation/approvals/ap-1/approve' });
    expect((await cli(['automation', 'deny', 'ap-1'], relay.url)).stdout).toContain('ap-1: denied');
  });
});
