import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { scratchDirectories } from '@lightsout/lab/scratch';
import { StreamTokens } from '../plugins/streams/tokens.js';

const scratch = scratchDirectories('lightsout-keys-');
afterEach(scratch.removeAll);
function dataDir(): string {
  const directory = scratch.make();
  return directory;
}

const grant = { sessionId: 'c2Vzc2lvbi1vbmUtdHdvLX', serverId: 'web-1', tenant: 'demo', kind: 'sol' as const, mode: 'control' as const, agentId: 'agent-1', subject: 'user-1', user: 'alice' };

describe('stream token key rotation with an overlap window', () => {
  it('signs with the new key after a rotation, keeps verifying the old one through the overlap, then drops it', async () => {
    let now = Date.UTC(2026, 0, 1);
    const directory = dataDir();
    const tokens = await StreamTokens.load({ dataDir: directory, issuer: 'http://relay', audience: 'http://relay/v1/streams', now: () => now, overlapSeconds: 3600 });
    expect(statSync(join(directory, 'stream-signing-keys.json')).mode & 0o777).toBe(0o600);
    const before = await tokens.issue(grant, 'resume');
    const oldKid = decodeProtectedHeader(before.token).kid;
    expect(tokens.jwks.keys.map((key) => key.kid)).toEqual([oldKid]);

    await tokens.rotateKey();
    const after = await tokens.issue(grant, 'resume');
    const newKid = decodeProtectedHeader(after.token).kid;
    expect(newKid).not.toBe(oldKid);
    expect(tokens.jwks.keys.map((key) => key.kid)).toEqual([oldKid, newKid]);
    // Public halves only in the JWKS.
    expect(tokens.jwks.keys.every((key) => key.d === undefined)).toBe(true);
    expect((await tokens.verify(before.token, grant.sessionId)).sub).toBe('user-1');
    expect((await tokens.verify(after.token, grant.sessionId)).sub).toBe('user-1');

    // A restarted relay sees the same ring.
    const restarted = await StreamTokens.load({ dataDir: directory, issuer: 'http://relay', audience: 'http://relay/v1/streams', now: () => now, overlapSeconds: 3600 });
    expect(restarted.jwks.keys.map((key) => key.kid)).toEqual([oldKid, newKid]);

    // Past the overlap window (60 s here, shorter than the 300 s resume token) the old key is neither
    // published nor accepted: its still-unexpired token is refused; the new key's is not.
    const short = await StreamTokens.load({ dataDir: dataDir(), issuer: 'http://relay', audience: 'http://relay/v1/streams', now: () => now, overlapSeconds: 60 });
    const signedByOld = await short.issue(grant, 'resume');
    await short.rotateKey();
    const signedByNew = await short.issue(grant, 'resume');
    now += 30_000;
    expect(short.jwks.keys).toHaveLength(2);
    expect((await short.verify(signedByOld.token, grant.sessionId)).sub).toBe('user-1');
    now += 31_000;
    expect(short.jwks.keys).toHaveLength(1);
    await expect(short.verify(signedByOld.token, grant.sessionId)).rejects.toMatchObject({ code: 'TOKEN_INVALID' });
    expect((await short.verify(signedByNew.token, grant.sessionId)).sub).toBe('user-1');
  });

  it('refuses a token whose kid was never published, and rotates on load when the key is older than rotateAfter', async () => {
    let now = Date.UTC(2026, 0, 1);
    const directory = dataDir();
    const first = await StreamTokens.load({ dataDir: directory, issuer: 'http://relay', audience: 'a', now: () => now, rotateAfterSeconds: 86_400 });
    const kid = first.jwks.keys[0]!.kid;
    const stranger = await StreamTokens.load({ dataDir: dataDir(), issuer: 'http://relay', audience: 'a', now: () => now });
    const foreign = await stranger.issue(grant, 'resume');
    await expect(first.verify(foreign.token, grant.sessionId)).rejects.toMatchObject({ code: 'TOKEN_INVALID' });
    now += 2 * 86_400 * 1000;
    const reloaded = await StreamTokens.load({ dataDir: directory, issuer: 'http://relay', audience: 'a', now: () => now, rotateAfterSeconds: 86_400 });
    expect(reloaded.jwks.keys.map((key) => key.kid)).toEqual([kid, expect.not.stringMatching(kid!)]);
  });

  it('imports the single key file of earlier versions as the first key', async () => {
    const directory = dataDir();
    const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    writeFileSync(join(directory, 'stream-signing-key.json'), JSON.stringify({ ...(await exportJWK(privateKey)), alg: 'EdDSA', use: 'sig', kid: 'stream-legacy' }), { mode: 0o600 });
    const tokens = await StreamTokens.load({ dataDir: directory, issuer: 'http://relay', audience: 'a' });
    expect(tokens.jwks.keys.map((key) => key.kid)).toEqual(['stream-legacy']);
  });
});
