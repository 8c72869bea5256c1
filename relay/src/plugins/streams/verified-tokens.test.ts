import { describe, expect, it } from 'vitest';
import { memoryKeyDocuments } from '../../access/key-documents.js';
import { StreamTokens } from './tokens.js';
import { VerifiedTokens } from './verified-tokens.js';

const grant = { sessionId: 'c2Vzc2lvbi1vbmUtdHdvLX', serverId: 'web-1', tenant: 'demo', kind: 'sol' as const, mode: 'control' as const, agentId: 'agent-1', subject: 'user-1', user: 'alice' };

describe('verified tokens: a token whose signature was checked once', () => {
  it('is found again for its audience only, until it expires or its key stops verifying', () => {
    let now = 1_000_000;
    let keyGood = true;
    const verified = new VerifiedTokens<{ sub: string }>(() => now, () => keyGood);
    verified.remember('token-a', 'streams', { sub: 'user-1' }, 'k1', now + 10_000);
    expect(verified.get('token-a', 'streams')).toEqual({ sub: 'user-1' });
    expect(verified.get('token-a', 'web')).toBeUndefined();
    expect(verified.get('token-b', 'streams')).toBeUndefined();
    keyGood = false;
    expect(verified.get('token-a', 'streams')).toBeUndefined();
    keyGood = true;
    verified.remember('token-a', 'streams', { sub: 'user-1' }, 'k1', now + 10_000);
    now += 10_000;
    expect(verified.get('token-a', 'streams')).toBeUndefined();
    expect(verified.size).toBe(0);
  });

  it('holds at most its bound, the least recently used going first, and drops expired entries as it meets them', () => {
    let now = 0;
    const verified = new VerifiedTokens<number>(() => now, () => true, 3);
    for (const [index, token] of ['t1', 't2', 't3'].entries()) verified.remember(token, 'a', index, 'k', 60_000);
    expect(verified.get('t1', 'a')).toBe(0);
    verified.remember('t4', 'a', 3, 'k', 60_000);
    expect(verified.size).toBe(3);
    expect(verified.get('t2', 'a')).toBeUndefined();
    expect([verified.get('t1', 'a'), verified.get('t3', 'a'), verified.get('t4', 'a')]).toEqual([0, 2, 3]);
    now = 60_000;
    verified.remember('t5', 'a', 4, 'k', 120_000);
    expect(verified.size).toBe(1);
  });
});

describe('stream tokens verified from memory are checked like the first time', () => {
  it('an expired token is refused as expired, a token for another session or use is refused, a stream token opens no web session', async () => {
    let now = Date.UTC(2026, 0, 1);
    const tokens = await StreamTokens.load({ documents: memoryKeyDocuments(), issuer: 'http://relay', audience: 'http://relay/v1/streams', now: () => now });
    const resume = await tokens.issue(grant, 'resume');
    expect((await tokens.verify(resume.token, grant.sessionId)).sub).toBe('user-1');
    // The second time comes from memory: the same answers as a first verification.
    expect((await tokens.verify(resume.token, grant.sessionId)).sid).toBe(grant.sessionId);
    await expect(tokens.verify(resume.token, 'another-session-id-00')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(tokens.verifyWeb(resume.token, grant.sessionId, 'web')).rejects.toMatchObject({ code: 'TOKEN_AUDIENCE' });
    now = (resume.expiresAt + 6) * 1000;
    await expect(tokens.verify(resume.token, grant.sessionId)).rejects.toMatchObject({ code: 'TOKEN_EXPIRED' });
  });

  it('a token altered after one verified is verified again, and refused', async () => {
    const tokens = await StreamTokens.load({ documents: memoryKeyDocuments(), issuer: 'http://relay', audience: 'http://relay/v1/streams' });
    const resume = await tokens.issue(grant, 'resume');
    await tokens.verify(resume.token, grant.sessionId);
    const [header, payload, signature] = resume.token.split('.');
    const altered = `${header}.${payload}.${signature!.slice(0, -4)}${signature!.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    await expect(tokens.verify(altered, grant.sessionId)).rejects.toMatchObject({ code: 'TOKEN_INVALID' });
  });
});
