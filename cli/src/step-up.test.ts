import { describe, expect, it } from 'vitest';
import { RelayApi } from './api.js';
import { staticTokenSource } from './auth/session.js';
import { relayStub } from './testing/relay-stub.js';

const STEP_UP_CHALLENGE = { 'www-authenticate': 'Bearer error="insufficient_user_authentication", max_age=600' };
const STEP_UP_REQUIRED = { code: 'STEP_UP_REQUIRED', message: 'this action needs a recent sign-in', details: { maxAge: 600 } };

/** A relay stand-in over real HTTP: power off answers STEP_UP_REQUIRED (RFC 9470) unless the token is the fresh one. */
function relayRequiringStepUp() {
  return relayStub((request) => (request.authorization === 'Bearer fresh-token' ? { status: 200, body: { power: 'off' } } : { status: 401, headers: STEP_UP_CHALLENGE, body: STEP_UP_REQUIRED }));
}

describe('step-up in the CLI', () => {
  it('does not sign in again when the relay says a new sign-in cannot help (the issuer\'s tokens carry no sign-in time)', async () => {
    const unknown = { ...STEP_UP_REQUIRED, details: { maxAge: 600, signInTime: 'unknown' } };
    const relay = await relayStub(() => ({ status: 401, headers: STEP_UP_CHALLENGE, body: unknown }));
    try {
      let signIns = 0;
      const api = new RelayApi(relay.url, staticTokenSource('stale-token'), async () => {
        signIns += 1;
        return staticTokenSource('fresh-token');
      });
      await expect(api.post('/v1/servers/web-1/power', { action: 'off' })).rejects.toMatchObject({ code: 'STEP_UP_REQUIRED', details: { signInTime: 'unknown' } });
      expect(signIns).toBe(0);
      expect(relay.seen).toHaveLength(1);
    } finally {
      await relay.close();
    }
  });

  it('signs in again once on STEP_UP_REQUIRED and retries with the fresh token', async () => {
    const relay = await relayRequiringStepUp();
    try {
      const challenges: string[] = [];
      const api = new RelayApi(relay.url, staticTokenSource('stale-token'), async (challenge) => {
        challenges.push(challenge.code);
        return staticTokenSource('fresh-token');
      });
      expect(await api.post('/v1/servers/web-1/power', { action: 'off' })).toEqual({ power: 'off' });
      expect(challenges).toEqual(['STEP_UP_REQUIRED']);
      expect(relay.seen.map((request) => request.authorization)).toEqual(['Bearer stale-token', 'Bearer fresh-token']);
    } finally {
      await relay.close();
    }
  });

  it('gives up with STEP_UP_REQUIRED when it cannot sign in again (LIGHTSOUT_TOKEN) or the fresh sign-in is still not enough', async () => {
    const relay = await relayRequiringStepUp();
    try {
      await expect(new RelayApi(relay.url, staticTokenSource('stale-token')).post('/v1/servers/web-1/power', { action: 'off' })).rejects.toMatchObject({ code: 'STEP_UP_REQUIRED' });
      let calls = 0;
      const stubborn = new RelayApi(relay.url, staticTokenSource('stale-token'), async () => {
        calls += 1;
        return staticTokenSource('still-stale');
      });
      await expect(stubborn.post('/v1/servers/web-1/power', { action: 'off' })).rejects.toMatchObject({ code: 'STEP_UP_REQUIRED' });
      expect(calls).toBe(1);
    } finally {
      await relay.close();
    }
  });
});
