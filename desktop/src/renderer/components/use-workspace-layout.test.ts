import { afterEach, describe, expect, it, vi } from 'vitest';
import { forgetWorkspaceLayout, layoutKey } from './use-workspace-layout.js';

afterEach(() => vi.unstubAllGlobals());

describe('the saved tab layout', () => {
  it('is kept per account (issuer and subject), and not at all for an unknown one', () => {
    const operator = layoutKey('https://relay.example/oidc 7c1e-operator');
    const otherTenant = layoutKey('https://relay.example/oidc 9a4f-operator');
    expect(operator).not.toBe(otherTenant);
    expect(layoutKey(null)).toBeNull();
    expect(layoutKey('')).toBeNull();
  });

  it('is forgotten on sign-out: the account\'s own, and the one layout older consoles kept for everyone', () => {
    const stored = new Map<string, string>([
      [layoutKey('issuer alice')!, '{"tabs":[]}'],
      [layoutKey('issuer bob')!, '{"tabs":[]}'],
      ['lightsout.workspace.v1', '{"tabs":[]}'],
    ]);
    vi.stubGlobal('localStorage', { removeItem: (key: string) => stored.delete(key) });
    forgetWorkspaceLayout('issuer alice');
    expect([...stored.keys()]).toEqual([layoutKey('issuer bob')]);
  });
});
