import type { ServerView } from '@lightsout/shared';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { BootDialog } from './ActionDialogs.js';

const server: ServerView = {
  id: 'web-01', name: 'web-01', tenant: 't', region: 'r', datacenter: 'd', rack: 'k', labels: {}, endpoints: {}, capabilities: ['power', 'boot'],
  agentId: 'a', agent: 'online', power: 'on', stateAt: null,
};

describe('boot dialog', () => {
  it('starts at "keep current" boot mode, so setting a device alone never switches UEFI/Legacy', () => {
    const html = renderToStaticMarkup(<BootDialog servers={[server]} onConfirm={() => undefined} onCancel={() => undefined} />);
    expect(html).toContain('<option value="keep" selected="">keep current</option>');
  });
});
