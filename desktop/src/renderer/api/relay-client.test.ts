import { LightsoutError } from '@lightsout/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { forEachServer, RelayClient } from './relay-client.js';

// fetch is replaced at the boundary: each test scripts the relay's answers in order.
function scriptFetch(answers: { status: number; body?: unknown }[]) {
  const requests: { url: string; init: RequestInit }[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    requests.push({ url, init });
    const answer = answers.shift();
    if (!answer) throw new TypeError('network down');
    return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), { status: answer.status, headers: { 'content-type': 'application/json' } });
  });
  return requests;
}

function client(overrides: Partial<ConstructorParameters<typeof RelayClient>[0]> = {}) {
  return new RelayClient({ baseUrl: 'https://relay.example', accessToken: async () => 'token-1', stepUp: async () => true, unauthenticated: () => {}, ...overrides });
}

describe('RelayClient', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('sends the bearer token and JSON body, returns the parsed answer', async () => {
    const requests = scriptFetch([{ status: 200, body: { power: 'on' } }]);
    expect(await client().power('srv-1', 'on')).toEqual({ power: 'on' });
    expect(requests[0]!.url).toBe('https://relay.example/v1/servers/srv-1/power');
    expect(requests[0]!.init.headers).toMatchObject({ authorization: 'Bearer token-1', 'content-type': 'application/json' });
    expect(requests[0]!.init.body).toBe('{"action":"on"}');
  });

  it('on STEP_UP_REQUIRED re-authenticates and retries exactly once', async () => {
    const requests = scriptFetch([
      { status: 401, body: { code: 'STEP_UP_REQUIRED', message: 'recent login required' } },
      { status: 200, body: { power: 'off' } },
    ]);
    const stepUp = vi.fn(async () => true);
    expect(await client({ stepUp }).power('srv-1', 'off')).toEqual({ power: 'off' });
    expect(stepUp).toHaveBeenCalledTimes(1);
    expect(requests).toHaveLength(2);

    scriptFetch([
      { status: 401, body: { code: 'STEP_UP_REQUIRED', message: 'again' } },
      { status: 401, body: { code: 'STEP_UP_REQUIRED', message: 'still' } },
    ]);
    await expect(client({ stepUp }).power('srv-1', 'off')).rejects.toMatchObject({ code: 'STEP_UP_REQUIRED', message: 'still' });
    expect(stepUp).toHaveBeenCalledTimes(2);
  });

  it('does not offer a sign-in the relay says cannot help (the issuer\'s tokens carry no sign-in time): the refusal is shown', async () => {
    const requests = scriptFetch([{ status: 401, body: { code: 'STEP_UP_REQUIRED', message: 'no auth_time', details: { maxAge: 600, signInTime: 'unknown' } } }]);
    const stepUp = vi.fn(async () => true);
    await expect(client({ stepUp }).power('srv-1', 'off')).rejects.toMatchObject({ code: 'STEP_UP_REQUIRED', message: 'no auth_time' });
    expect(stepUp).not.toHaveBeenCalled();
    expect(requests).toHaveLength(1);
  });

  it('does not retry when the user cancels the step-up', async () => {
    const requests = scriptFetch([{ status: 401, body: { code: 'STEP_UP_REQUIRED', message: 'x' } }]);
    await expect(client({ stepUp: async () => false }).power('srv-1', 'cycle')).rejects.toMatchObject({ code: 'STEP_UP_REQUIRED' });
    expect(requests).toHaveLength(1);
  });

  it('reports an unusable token and maps error bodies to LightsoutError codes', async () => {
    scriptFetch([{ status: 401, body: { code: 'TOKEN_EXPIRED', message: 'expired' } }]);
    const unauthenticated = vi.fn();
    await expect(client({ unauthenticated }).servers()).rejects.toBeInstanceOf(LightsoutError);
    expect(unauthenticated).toHaveBeenCalledTimes(1);
    scriptFetch([{ status: 503, body: { code: 'AGENT_OFFLINE', message: 'agent offline', hint: 'check the agent' } }]);
    await expect(client().sensors('srv-1')).rejects.toMatchObject({ code: 'AGENT_OFFLINE', hint: 'check the agent' });
    scriptFetch([]);
    await expect(client().me()).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('cannot reach the relay') });
  });
});

describe('forEachServer', () => {
  it('keeps at most `concurrency` calls in flight and one result per id, in order', async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await forEachServer(['a', 'b', 'c', 'd', 'e'], 2, async (serverId) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await Promise.resolve();
      inFlight--;
      if (serverId === 'c') throw new LightsoutError('BMC_TIMEOUT', 'slow');
      return serverId.toUpperCase();
    });
    expect(peak).toBe(2);
    expect(results.map((result) => [result.serverId, result.ok, result.value ?? result.error?.code])).toEqual([
      ['a', true, 'A'], ['b', true, 'B'], ['c', false, 'BMC_TIMEOUT'], ['d', true, 'D'], ['e', true, 'E'],
    ]);
  });
});
