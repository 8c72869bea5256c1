import { LightsoutError } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { FileGrants } from './file-grants.js';

const key = '/home/operator/keys/bmc.pem';

function refusal(run: () => unknown): LightsoutError {
  try {
    run();
  } catch (error) {
    if (error instanceof LightsoutError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('FileGrants', () => {
  it('lets a window read a path it was granted, once', () => {
    const grants = new FileGrants();
    grants.grant(1, key);
    expect(grants.take(1, key)).toBe(key);
    expect(refusal(() => grants.take(1, key)).code).toBe('FORBIDDEN');
  });

  it('refuses a path nobody chose, with FORBIDDEN and the path in the message', () => {
    const grants = new FileGrants();
    grants.grant(1, key);
    const error = refusal(() => grants.take(1, '/home/operator/.ssh/id_ed25519'));
    expect(error.code).toBe('FORBIDDEN');
    expect(error.message).toBe('/home/operator/.ssh/id_ed25519 was not chosen by the user (open dialog or drop)');
  });

  it('matches the path exactly: no normalisation an attacker could steer', () => {
    const grants = new FileGrants();
    grants.grant(1, '/home/operator/keys/bmc.pem');
    for (const variant of ['/home/operator/keys/../keys/bmc.pem', '/home/operator/keys//bmc.pem', '/home/operator/keys/bmc.pem/', '/home/operator/keys/BMC.pem']) {
      expect(refusal(() => grants.take(1, variant)).code).toBe('FORBIDDEN');
    }
    expect(grants.take(1, '/home/operator/keys/bmc.pem')).toBe('/home/operator/keys/bmc.pem');
  });

  it('keeps grants per window: another window (a pop-out) cannot use them', () => {
    const grants = new FileGrants();
    grants.grant(1, key);
    expect(refusal(() => grants.take(2, key)).code).toBe('FORBIDDEN');
    expect(grants.take(1, key)).toBe(key);
  });

  it('expires a grant that was not used in time', () => {
    const time = clock();
    const grants = new FileGrants({ now: time.now, ttlMs: 60_000 });
    grants.grant(1, key);
    grants.grant(1, '/tmp/other.txt');
    time.advance(59_999);
    expect(grants.take(1, key)).toBe(key);
    time.advance(1);
    expect(refusal(() => grants.take(1, '/tmp/other.txt')).code).toBe('FORBIDDEN');
  });

  it('granting again renews the deadline', () => {
    const time = clock();
    const grants = new FileGrants({ now: time.now, ttlMs: 1000 });
    grants.grant(1, key);
    time.advance(900);
    grants.grant(1, key);
    time.advance(900);
    expect(grants.take(1, key)).toBe(key);
  });

  it('holds a bounded number of grants, dropping the oldest first', () => {
    const grants = new FileGrants({ maxGrants: 3 });
    for (const name of ['a', 'b', 'c', 'd']) grants.grant(1, `/drop/${name}`);
    expect(grants.size).toBe(3);
    expect(refusal(() => grants.take(1, '/drop/a')).code).toBe('FORBIDDEN');
    expect(['b', 'c', 'd'].map((name) => grants.take(1, `/drop/${name}`))).toEqual(['/drop/b', '/drop/c', '/drop/d']);
    expect(grants.size).toBe(0);
  });

  it('refuses to grant a relative path, an empty one or one with a NUL', () => {
    const grants = new FileGrants();
    for (const path of ['', 'id_ed25519', '~/.ssh/id_ed25519', './x', '/tmp/a\0b']) {
      expect(refusal(() => grants.grant(1, path)).code).toBe('VALIDATION_FAILED');
    }
    expect(grants.size).toBe(0);
  });

  it('forgets everything a window was granted when it closes', () => {
    const grants = new FileGrants();
    grants.grant(1, key);
    grants.grant(2, key);
    grants.revokeWindow(1);
    expect(refusal(() => grants.take(1, key)).code).toBe('FORBIDDEN');
    expect(grants.take(2, key)).toBe(key);
  });
});
