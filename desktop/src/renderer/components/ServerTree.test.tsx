import type { ServerView } from '@lightsout/shared';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { GroupLine, ServerLine } from './ServerTree.js';

const server = (overrides: Partial<ServerView>): ServerView => ({
  id: 'web-01', name: 'web-01', tenant: 't', region: 'r', datacenter: 'd', rack: 'k', labels: {}, endpoints: {}, capabilities: ['power'],
  agentId: 'a', agent: 'online', power: 'on', stateAt: null, ...overrides,
});

const line = (view: ServerView) =>
  renderToStaticMarkup(
    <ServerLine
      row={{ kind: 'server', key: `server:${view.id}`, depth: 4, server: view }}
      style={{ top: 0 }}
      selected={false}
      focused={false}
      dropTarget={false}
      onClick={() => undefined}
      onDoubleClick={() => undefined}
      onContextMenu={() => undefined}
      onDragOver={() => undefined}
      onDragLeave={() => undefined}
      onDrop={() => undefined}
    />,
  );

describe('a server in the tree', () => {
  it('says why its power is unknown, from the error the agent reported for the BMC', () => {
    const html = line(server({ power: 'unknown', bmc: { error: { code: 'NOT_FOUND', message: 'the BMC has no system "lab-node-1"' } } }));
    expect(html).toContain('title="Power unknown: NOT_FOUND: the BMC has no system &quot;lab-node-1&quot;"');
  });

  it('shows a power action pending until the BMC reports its target, then the state it reported', () => {
    expect(line(server({ power: 'on', pendingPower: { action: 'off', target: 'off', since: '2026-12-05T01:00:00.000Z' } }))).toContain('data-pending="off"');
    expect(line(server({ power: 'off', pendingPower: null, lastPower: { action: 'off', target: 'off', confirmed: true, at: '2026-12-05T01:00:04.000Z', seconds: 4 } }))).toContain('data-power="off"');
  });

  it('shows the negotiated cipher suite, or that the BMC rejected the credentials', () => {
    expect(line(server({ bmc: { protocol: 'ipmi-v2.0', cipherSuite: 3 } }))).toContain('data-cipher-suite="3"');
    expect(line(server({ power: 'unknown', bmc: { credentials: 'rejected', retryAt: '2026-12-05T09:00:00.000Z' } }))).toContain('data-credentials="rejected"');
  });
});

describe('a group line', () => {
  const group = (total: number, agentsOffline: number) =>
    renderToStaticMarkup(
      <GroupLine
        row={{ kind: 'group', key: 'acme/eu/ams1/r1', level: 'rack', label: 'r1', depth: 3, total, poweredOn: 1, agentsOffline, collapsed: false }}
        style={{ top: 0 }}
        focused={false}
        onClick={() => undefined}
        onContextMenu={() => undefined}
      />,
    );

  it('counts its servers in words that agree with the number', () => {
    expect(group(1, 1)).toContain('title="1 server, 1 on, 1 behind an offline agent"');
    expect(group(3, 0)).toContain('title="3 servers, 1 on, none behind an offline agent"');
  });
});
