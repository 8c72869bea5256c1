import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ConnectionFacts } from './ConnectionFacts.js';

const agent = { id: 'agt-1', state: 'online' as const, lastSeenAt: '2026-12-05T17:00:00.000Z', region: 'eu', datacenter: 'fra1' };
const text = (html: string) => html.replace(/<[^>]+>/g, '');

describe('the server page\'s Agent and gateway block', () => {
  it('a provider admin\'s view: the agent by name and version (its id below), the gateway with region, the replica on hover', () => {
    const html = renderToStaticMarkup(<ConnectionFacts connection={{ agent: { ...agent, name: 'fra1-a', version: '1.4.0' }, gateway: { replicaId: 'r-9', url: 'https://gw1.eu.example', region: 'eu-central' } }} error={null} />);
    expect(text(html)).toContain('fra1-a · version 1.4.0 · online');
    expect(text(html)).toContain('agt-1');
    expect(text(html)).toContain('https://gw1.eu.example · region eu-central');
    expect(html).toContain('title="replica r-9"');
    expect(html).toContain('data-gateway-url="https://gw1.eu.example"');
    expect(html).toMatch(/<time dateTime="2026-12-05T17:00:00.000Z" title="[^"]* UTC">/);
  });

  it('a tenant user\'s view: the agent by id; offline says there is no gateway; a never-seen agent says never', () => {
    const html = renderToStaticMarkup(<ConnectionFacts connection={{ agent: { ...agent, state: 'offline', lastSeenAt: null } }} error={null} />);
    expect(text(html)).toContain('agt-1 · offline');
    expect(html).not.toContain('version');
    expect(text(html)).toContain('none — the agent is offline');
    expect(text(html)).toContain('Last seennever');
    expect(html).toContain('data-agent-state="offline"');
  });

  it('before the answer, on an error, and for a server whose agent the relay does not know', () => {
    expect(text(renderToStaticMarkup(<ConnectionFacts connection={null} error={null} />))).toBe('reading…');
    expect(text(renderToStaticMarkup(<ConnectionFacts connection={null} error="AGENT_OFFLINE" />))).toBe('AGENT_OFFLINE');
    expect(text(renderToStaticMarkup(<ConnectionFacts connection={undefined} error={null} />))).toBe('The relay knows no agent for this server.');
  });
});
