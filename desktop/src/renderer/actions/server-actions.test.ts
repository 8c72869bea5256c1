import type { ServerView } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { capabilitiesOf, defaultConsoleKind, POWER_ACTIONS } from './server-actions.js';

const server = (capabilities: ServerView['capabilities']): ServerView => ({
  id: 's', name: 's', tenant: 't', region: 'r', datacenter: 'd', rack: 'k', labels: {}, endpoints: {}, capabilities,
  agentId: 'a', agent: 'online', power: 'on', stateAt: null,
});

describe('server actions', () => {
  it('asks for confirmation for everything that can interrupt a running OS', () => {
    expect(POWER_ACTIONS.filter((entry) => entry.destructive).map((entry) => entry.action).sort()).toEqual(['cycle', 'off', 'reset', 'soft']);
  });

  it('opens SOL before serial before VNC, nothing without a console', () => {
    expect(defaultConsoleKind(server(['power', 'vnc', 'sol']))).toBe('sol');
    expect(defaultConsoleKind(server(['serial', 'vnc']))).toBe('serial');
    expect(defaultConsoleKind(server(['vnc']))).toBe('vnc');
    expect(defaultConsoleKind(server(['power']))).toBeNull();
  });

  it('offers the union of capabilities of a selection', () => {
    expect([...capabilitiesOf([server(['power']), server(['media', 'power'])])].sort()).toEqual(['media', 'power']);
  });
});
