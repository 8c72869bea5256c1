import type { BootRequest, BootResult, ServerView } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { bootRequest, bootResultText, capabilitiesOf, defaultConsoleKind, ejectApplies, POWER_ACTIONS, powerActionApplies, powerOutcomeText, setBootOf, visibleSelection } from './server-actions.js';

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

  it('offers a power action only where it can do something: on for a server not on, the others for one that is', () => {
    const on = { ...server(['power']), power: 'on' as const };
    const off = { ...server(['power']), power: 'off' as const };
    const unknown = { ...server(['power']), power: 'unknown' as const };
    const applies = (servers: ServerView[]) => POWER_ACTIONS.filter((entry) => powerActionApplies(entry.action, servers)).map((entry) => entry.action);
    expect(applies([on])).toEqual(['soft', 'off', 'cycle', 'reset']);
    expect(applies([off])).toEqual(['on']);
    expect(applies([unknown])).toEqual(['on', 'soft', 'off', 'cycle', 'reset']);
    expect(applies([on, off])).toEqual(['on', 'soft', 'off', 'cycle', 'reset']);
  });

  it('offers eject only when something is mounted, or the relay does not say', () => {
    const mounted = { ...server(['media']), media: { filename: 'x.iso' } as ServerView['media'] };
    expect(ejectApplies([{ ...server(['media']), media: null }])).toBe(false);
    expect(ejectApplies([{ ...server(['media']), media: null }, mounted])).toBe(true);
    expect(ejectApplies([server(['media'])])).toBe(true);
  });

  it('keeps only the selected servers the filter still shows', () => {
    expect([...visibleSelection(new Set(['a', 'b', 'c']), new Set(['b', 'c', 'd']))]).toEqual(['b', 'c']);
  });

  it('names the action done, not the bare resulting state', () => {
    expect(powerOutcomeText('cycle', { power: 'on' })).toBe('Power cycle done — the server is on');
    expect(powerOutcomeText('reset', { power: 'on', pending: { action: 'reset', target: 'on', since: '2026-12-05T00:00:00Z' } })).toBe('Hard reset accepted — waiting for the server to come on');
    expect(powerOutcomeText('off', { power: 'on', pending: { action: 'off', target: 'off', since: '2026-12-05T00:00:00Z' } })).toBe('Power off accepted — waiting for the server to go off');
    expect(powerOutcomeText('on', { power: 'unknown' })).toBe('Power on sent — the BMC does not report the power state');
  });
});

describe('boot device from the console', () => {
  it('sends no boot mode unless one was chosen: a device change keeps the BMC\'s UEFI or Legacy', () => {
    expect(bootRequest('pxe', false, 'keep')).toEqual({ device: 'pxe', persistent: false });
    expect(bootRequest('pxe', false, 'legacy')).toEqual({ device: 'pxe', persistent: false, uefi: false });
    expect(bootRequest('cd', true, 'uefi')).toEqual({ device: 'cd', persistent: true, uefi: true });
  });

  it('says what the BMC kept when it differs from the request (an error toast), not only the device set', async () => {
    const warning = 'the BMC accepted the boot override but kept the override persistent instead of for the next boot only';
    const sent: BootRequest[] = [];
    const warned: string[] = [];
    const setBoot = (answer: BootResult) => async (_serverId: string, request: BootRequest) => {
      sent.push(request);
      return answer;
    };
    const request = bootRequest('pxe', false, 'keep');
    expect(await setBootOf('web-01', request, setBoot({ device: 'pxe', persistent: true, uefi: true, warning }), (message) => warned.push(message))).toBe('boot pxe (every boot)');
    expect(warned).toEqual([`web-01: ${warning}`]);
    // a selection's results dialog has one row per server: the warning is in it
    expect(bootResultText({ device: 'pxe', persistent: true, warning })).toBe(`boot pxe (every boot) — ${warning}`);
    expect(await setBootOf('web-02', request, setBoot({ device: 'pxe', persistent: false, uefi: true }), (message) => warned.push(message))).toBe('boot pxe (next boot)');
    expect(warned).toHaveLength(1);
    expect(sent).toEqual([request, request]);
  });
});
