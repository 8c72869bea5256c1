import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningRelay, loginWithPassword, startRelay } from '../testing/index.js';
import { createUser } from './accounts.js';
import { TotpSealer } from './second-factor.js';
import { base32Decode, newTotpSecret, totp } from './totp.js';

const directory = mkdtempSync(join(tmpdir(), 'lightsout-totp-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('TOTP secrets at rest (AES-256-GCM, key outside the database)', () => {
  it('seal and open round-trip; a value opens only for its own user and only with its key', () => {
    const sealer = TotpSealer.loadOrCreate(join(directory, 'keys', 'totp.key'));
    expect(statSync(join(directory, 'keys', 'totp.key')).mode & 0o777).toBe(0o600);
    const secret = newTotpSecret();
    const sealed = sealer.seal('user-a', secret);
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain(secret);
    expect(sealer.seal('user-a', secret)).not.toBe(sealed); // a fresh IV each time
    expect(sealer.open('user-a', sealed)).toBe(secret);
    expect(sealer.open('user-b', sealed)).toBeUndefined();
    expect(TotpSealer.loadOrCreate(join(directory, 'other.key')).open('user-a', sealed)).toBeUndefined();
    expect(sealer.open('user-a', `${sealed.slice(0, -2)}AA`)).toBeUndefined();
    expect(sealer.open('user-a', secret)).toBeUndefined();
    // Loaded again, the same file gives the same key.
    expect(TotpSealer.loadOrCreate(join(directory, 'keys', 'totp.key')).open('user-a', sealed)).toBe(secret);
  });

  it('a relay upgraded over a database with clear secrets seals them at startup, and the factor still signs in', async () => {
    const dataDir = join(directory, 'relay');
    let relay: RunningRelay = await startRelay({ dataDir });
    const secret = newTotpSecret();
    const pending = newTotpSecret();
    try {
      const user = await createUser(relay.app.store, { tenant: 'demo', username: 'legacy-operator', password: 'legacy-operator-password', role: 'operator' });
      const other = await createUser(relay.app.store, { tenant: 'demo', username: 'legacy-pending', password: 'legacy-pending-password', role: 'operator' });
      // What an earlier version wrote: the base32 secret itself, and "pending:" for an unconfirmed one.
      await relay.app.store.updateTable('users').set({ totp_secret: secret }).where('id', '=', user.id).execute();
      await relay.app.store.updateTable('users').set({ totp_secret: `pending:${pending}` }).where('id', '=', other.id).execute();
    } finally {
      await relay.close();
    }
    relay = await startRelay({ dataDir });
    try {
      const rows = await relay.app.store.selectFrom('users').select(['username', 'totp_secret', 'totp_pending']).where('username', 'like', 'legacy-%').orderBy('username').execute();
      expect(rows.map((row) => [row.username, row.totp_secret?.slice(0, 3) ?? null, row.totp_pending?.slice(0, 3) ?? null])).toEqual([
        ['legacy-operator', 'v1.', null],
        ['legacy-pending', null, 'v1.'],
      ]);
      const database = readdirSync(dataDir).filter((name) => name.startsWith('relay.sqlite')).map((name) => readFileSync(join(dataDir, name)).toString('latin1')).join('\n');
      expect(database).not.toContain(secret);
      expect(database).not.toContain(pending);
      const code = totp(base32Decode(secret), Math.floor(Date.now() / 1000));
      expect(decodeAmr((await loginWithPassword(relay.url, 'legacy-operator', 'legacy-operator-password', { otp: code })).accessToken)).toEqual(['pwd', 'otp', 'mfa']);
    } finally {
      await relay.close();
    }
  });
});

function decodeAmr(token: string): unknown {
  return (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { amr?: unknown }).amr;
}
