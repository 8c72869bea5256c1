import { AUTOMATION_TOOLS } from '@lightsout/shared';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROKEN_IDENTITIES, FOREIGN_IDENTITIES, type IsolationWorld, buildIsolationWorld } from '../../testing/isolation-world.js';
import { type RunningRelay, startRelay } from '../../testing/index.js';

/**
 * Tenant isolation through the MCP endpoint: every identity of tenant bravo
 * (people of each role and an API token), with every tool enabled by bravo's
 * policy, calls every tool on tenant alpha's server; broken credentials do
 * not get past the HTTP layer. No answer may carry any of alpha's markers.
 */
let relay: RunningRelay;
let world: IsolationWorld;

async function connect(authorization: string | undefined): Promise<Client> {
  const client = new Client({ name: 'isolation-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${relay.url}/mcp`), { requestInit: { headers: authorization === undefined ? {} : { authorization } } });
  await client.connect(transport);
  return client;
}

const argumentsFor = (tool: string, serverId: string): Record<string, unknown> =>
  ({
    list_servers: {},
    power_action: { server_id: serverId, action: 'off' },
    set_boot: { server_id: serverId, device: 'pxe' },
    console_send: { server_id: serverId, line: 'uptime' },
    mount_media: { server_id: serverId, upload_id: 'x' },
    bulk_action: { selector: { ids: [serverId] }, operation: { kind: 'sensors.read' } },
    bulk_status: { job_id: 'not-a-job-of-yours' },
  })[tool] ?? { server_id: serverId };

beforeAll(async () => {
  relay = await startRelay();
  world = await buildIsolationWorld(relay);
  // Bravo enables everything: a refusal must come from the tenant scope, not from bravo's own policy.
  await relay.app.store.insertInto('automation_policies').values({ tenant_id: 'bravo', policy: JSON.stringify({ tools: AUTOMATION_TOOLS, console: { allow: ['.*'] } }), updated_at: Date.now(), updated_by: 'test' }).execute();
}, 60_000);
afterAll(async () => {
  await relay?.close();
});

describe('MCP tenant isolation', () => {
  it.each(FOREIGN_IDENTITIES)('%s sees none of alpha through any tool', async (identity) => {
    const client = await connect(world.identities.get(identity));
    try {
      const seen: string[] = [];
      const listed = await client.listTools();
      seen.push(JSON.stringify(listed));
      for (const tool of AUTOMATION_TOOLS) {
        const result = await client.callTool({ name: tool, arguments: argumentsFor(tool, world.alpha.serverId) });
        const text = JSON.stringify(result);
        seen.push(text);
        if (tool === 'list_servers') {
          expect(result.isError, text).toBeFalsy();
          expect((result.structuredContent as { servers: { id: string }[] }).servers.map((server) => server.id)).toEqual(['bravo-web-1']);
          continue;
        }
        if (tool === 'bulk_action') {
          // A selector naming alpha's server resolves to nothing, exactly like an id that does not exist.
          expect(result.isError, text).toBeFalsy();
          expect(result.structuredContent).toMatchObject({ total: 0, server_ids: [] });
          continue;
        }
        expect(result.isError, `${tool}: ${text}`).toBe(true);
        // A tool the role may not use is refused as FORBIDDEN only after the server was found; alpha's is never found.
        const { error } = JSON.parse((result.content as { text: string }[])[0]!.text) as { error: { code: string } };
        expect(error.code, `${tool}: ${text}`).toBe('NOT_FOUND');
      }
      for (const secret of world.alpha.secrets.filter((value) => value !== world.alpha.serverId)) expect(seen.join('\n')).not.toContain(secret);
    } finally {
      await client.close();
    }
  }, 60_000);

  it.each(BROKEN_IDENTITIES)('%s is refused with 401 and the resource metadata', async (identity) => {
    const authorization = world.identities.get(identity);
    const response = await fetch(`${relay.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(authorization === undefined ? {} : { authorization }) },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    const body = await response.text();
    expect(response.status, body).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain(`resource_metadata="${relay.url}/.well-known/oauth-protected-resource/mcp"`);
    for (const secret of world.alpha.secrets) expect(body).not.toContain(secret);
  });

  it('publishes protected-resource metadata naming the relay\'s own OpenID Provider (RFC 9728)', async () => {
    const metadata = (await (await fetch(`${relay.url}/.well-known/oauth-protected-resource/mcp`)).json()) as { resource: string; authorization_servers: string[] };
    expect(metadata.resource).toBe(`${relay.url}/mcp`);
    expect(metadata.authorization_servers).toEqual([relay.config.identity.issuer]);
    const discovery = await fetch(`${metadata.authorization_servers[0]}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    expect(((await discovery.json()) as { issuer: string }).issuer).toBe(relay.config.identity.issuer);
  });
});
