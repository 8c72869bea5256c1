import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { scratchDirectories } from '@lightsout/lab/scratch';
import { StreamTokens } from '../plugins/streams/tokens.js';
import { AtRestKey } from '../store/at-rest-key.js';
import type { Store } from '../store/open.js';
import { storeDialects } from '../testing/dialects.js';
import { waitFor } from '@lightsout/lab/wait';
import { type KeyDocuments, memoryKeyDocuments, storeKeyDocuments } from './key-documents.js';

const scratch = scratchDirectories('lightsout-keys-');
afterEach(scratch.removeAll);

const grant = { sessionId: 'c2Vzc2lvbi1vbmUtdHdvLX', serverId: 'web-1', tenant: 'demo', kind: 'sol' as const, mode: 'control' as const, agentId: 'agent-1', subject: 'user-1', user: 'alice' };

describe('stream token key rotation with an overlap window', () => {
  it('signs with the new key after a rotation, keeps verifying the old one through the overlap, then drops it', async () => {
    let now = Date.UTC(2026, 0, 1);
    const documents = memoryKeyDocuments();
    const tokens = await StreamTokens.load({ documents, issuer: 'http://relay', audience: 'http://relay/v1/streams', now: () => now, overlapSeconds: 3600 });
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
    const restarted = await StreamTokens.load({ documents, issuer: 'http://relay', audience: 'http://relay/v1/streams', now: () => now, overlapSeconds: 3600 });
    expect(restarted.jwks.keys.map((key) => key.kid)).toEqual([oldKid, newKid]);

    // Past the overlap window (60 s here, shorter than the 300 s resume token) the old key is neither
    // published nor accepted: its still-unexpired token is refused; the new key's is not.
    const short = await StreamTokens.load({ documents: memoryKeyDocuments(), issuer: 'http://relay', audience: 'http://relay/v1/streams', now: () => now, overlapSeconds: 60 });
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
    const documents = memoryKeyDocuments();
    const first = await StreamTokens.load({ documents, issuer: 'http://relay', audience: 'a', now: () => now, rotateAfterSeconds: 86_400 });
    const kid = first.jwks.keys[0]!.kid;
    const stranger = await StreamTokens.load({ documents: memoryKeyDocuments(), issuer: 'http://relay', audience: 'a', now: () => now });
    const foreign = await stranger.issue(grant, 'resume');
    await expect(first.verify(foreign.token, grant.sessionId)).rejects.toMatchObject({ code: 'TOKEN_INVALID' });
    now += 2 * 86_400 * 1000;
    const reloaded = await StreamTokens.load({ documents, issuer: 'http://relay', audience: 'a', now: () => now, rotateAfterSeconds: 86_400 });
    expect(reloaded.jwks.keys.map((key) => key.kid)).toEqual([kid, expect.not.stringMatching(kid!)]);
  });

  it('imports the single key file of earlier versions as the first key, and then removes it', async () => {
    const directory = scratch.make();
    const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    writeFileSync(join(directory, 'stream-signing-key.json'), JSON.stringify({ ...(await exportJWK(privateKey)), alg: 'EdDSA', use: 'sig', kid: 'stream-legacy' }), { mode: 0o600 });
    const documents = memoryKeyDocuments();
    const tokens = await StreamTokens.load({ documents, dataDir: directory, issuer: 'http://relay', audience: 'a' });
    expect(tokens.jwks.keys.map((key) => key.kid)).toEqual(['stream-legacy']);
    expect(existsSync(join(directory, 'stream-signing-key.json'))).toBe(false);
    expect((await StreamTokens.load({ documents, issuer: 'http://relay', audience: 'a' })).jwks.keys.map((key) => key.kid)).toEqual(['stream-legacy']);
  });

  it('imports the ring file of a single-process install, so the tokens it issued stay valid', async () => {
    const directory = scratch.make();
    const earlier = memoryKeyDocuments();
    const before = await StreamTokens.load({ documents: earlier, issuer: 'http://relay', audience: 'a' });
    const issued = await before.issue(grant, 'resume');
    const kid = before.jwks.keys[0]!.kid!;
    // What earlier versions wrote to the file: the same ring document, private keys included.
    const ring = (await earlier.read('stream'))!.document;
    const documents = memoryKeyDocuments();
    writeFileSync(join(directory, 'stream-signing-keys.json'), ring, { mode: 0o600 });
    const upgraded = await StreamTokens.load({ documents, dataDir: directory, issuer: 'http://relay', audience: 'a' });
    expect(upgraded.jwks.keys.map((key) => key.kid)).toEqual([kid]);
    expect((await upgraded.verify(issued.token, grant.sessionId)).sub).toBe('user-1');
    expect(existsSync(join(directory, 'stream-signing-keys.json'))).toBe(false);
  });
});

describe.each(storeDialects('lightsout-keyring-'))('stream keys shared by the replicas of one store (%s)', (_dialect, open) => {
  const stores: Store[] = [];
  afterAll(async () => {
    for (const store of stores) await store.destroy();
  });
  // Every replica of a deployment reads the same at-rest key file (loaded once: the file may be gone by the next test).
  let sharedKey: AtRestKey | undefined;
  async function replica(): Promise<KeyDocuments> {
    const store = await open();
    stores.push(store);
    sharedKey ??= AtRestKey.loadOrCreate(join(scratch.make(), 'at-rest.key'));
    return storeKeyDocuments(store, sharedKey);
  }

  it('replicas starting at once on an empty store end up with one ring; a token from one verifies at the other', async () => {
    const left = await replica();
    const right = await replica();
    const [a, b] = await Promise.all([
      StreamTokens.load({ documents: left, issuer: 'http://deployment', audience: 'http://deployment/v1/streams' }),
      StreamTokens.load({ documents: right, issuer: 'http://deployment', audience: 'http://deployment/v1/streams' }),
    ]);
    expect(b.jwks).toEqual(a.jwks);
    expect((await b.verify((await a.issue(grant, 'connect')).token, grant.sessionId)).sub).toBe('user-1');
  });

  it('a rotation at one replica: the other accepts the new key at once and signs with it after a refresh; two rotations in a race keep both keys', async () => {
    const left = await replica();
    const right = await replica();
    const a = await StreamTokens.load({ documents: left, issuer: 'http://deployment', audience: 'x' });
    const b = await StreamTokens.load({ documents: right, issuer: 'http://deployment', audience: 'x' });
    await a.rotateKey();
    const signedByNew = await a.issue(grant, 'resume');
    // b has not seen the new kid: it looks it up in the store instead of refusing.
    expect((await b.verify(signedByNew.token, grant.sessionId)).sub).toBe('user-1');
    expect(b.jwks).toEqual(a.jwks);
    // Both rotate from the same version: the loser re-reads and rotates on top, so nothing is lost.
    await Promise.all([a.rotateKey(), b.rotateKey()]);
    const stop = b.refreshKeysEvery(10, () => undefined);
    await a.rotateKey();
    const expected = a.jwks;
    await waitFor('the other replica to re-read the ring', () => JSON.stringify(b.jwks) === JSON.stringify(expected));
    stop();
    expect(b.jwks).toEqual(expected);
    expect(expected.keys).toHaveLength(5);
    expect((await a.verify((await b.issue(grant, 'resume')).token, grant.sessionId)).sub).toBe('user-1');
  });
});
