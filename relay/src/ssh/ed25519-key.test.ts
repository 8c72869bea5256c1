import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeOpenSshEd25519, generateEd25519Key } from './ed25519-key.js';

const { utils } = ssh2;

// RFC 8410 §7: a PKCS #8 Ed25519 private key is this prefix and the 32-byte seed.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function keyOfSeed(seed: Buffer) {
  const jwk = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
  return { seed, publicKey: Buffer.from(jwk.x!, 'base64url') };
}

/** The first seed in a fixed sequence whose public key begins with a zero byte: the keys ssh2's own generator breaks. */
function seedWithLeadingZeroPublicKey() {
  for (let index = 0; ; index++) {
    const key = keyOfSeed(createHash('sha256').update(`lightsout-ed25519-${index}`).digest());
    if (key.publicKey[0] === 0) return key;
  }
}

let directory: string;
beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'lightsout-ed25519-'));
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** A reader of consecutive SSH `string` fields from `start`, and of one uint32. */
function fields(bytes: Buffer, start: number) {
  let offset = start;
  return {
    uint32: () => {
      offset += 4;
      return bytes.readUInt32BE(offset - 4);
    },
    string: () => {
      const length = bytes.readUInt32BE(offset);
      offset += 4 + length;
      return bytes.subarray(offset - length, offset);
    },
  };
}

/** Reads seed, public key, check integer and comment back out of an ssh-keygen key file (PROTOCOL.key layout). */
function partsOfOpenSshFile(text: string) {
  const body = Buffer.from(text.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const outer = fields(body, 'openssh-key-v1\0'.length);
  expect([outer.string(), outer.string(), outer.string()].map(String)).toEqual(['none', 'none', '']);
  expect(outer.uint32()).toBe(1);
  outer.string();
  const inner = fields(outer.string(), 0);
  const checkInt = inner.uint32();
  expect(inner.uint32()).toBe(checkInt);
  expect(String(inner.string())).toBe('ssh-ed25519');
  const publicKey = Buffer.from(inner.string());
  const seed = Buffer.from(inner.string().subarray(0, 32));
  return { seed, publicKey, checkInt, comment: inner.string().toString('utf8') };
}

describe('Ed25519 keys in openssh-key-v1 (PROTOCOL.key)', () => {
  it('encodes a key byte for byte as ssh-keygen writes it', () => {
    const file = join(directory, 'by-ssh-keygen');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'noc@lightsout', '-f', file]);
    const written = readFileSync(file, 'utf8');
    expect(encodeOpenSshEd25519(partsOfOpenSshFile(written))).toBe(written);
  });

  it('keeps all 32 bytes of a public key that begins with zero, and ssh-keygen and ssh2 both read it', () => {
    const { seed, publicKey } = seedWithLeadingZeroPublicKey();
    const encoded = encodeOpenSshEd25519({ seed, publicKey, checkInt: 0x01020304 });
    const file = join(directory, 'leading-zero');
    writeFileSync(file, encoded, { mode: 0o600 });
    const derived = execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).trim().split(' ');
    expect(Buffer.from(derived[1]!, 'base64').subarray(-32)).toEqual(publicKey);
    const parsed = utils.parseKey(encoded);
    if (parsed instanceof Error) throw parsed;
    const key = Array.isArray(parsed) ? parsed[0]! : parsed;
    const data = Buffer.from('signed by the relay');
    const signature = key.sign(data);
    expect(verify(null, data, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey.toString('base64url') }, format: 'jwk' }), signature)).toBe(true);
  });

  it('generates keys that ssh2 parses and whose public line ssh-keygen derives from the private key', () => {
    for (let round = 0; round < 600; round++) {
      const pair = generateEd25519Key();
      const parsed = utils.parseKey(pair.private);
      if (parsed instanceof Error) throw parsed;
      const key = Array.isArray(parsed) ? parsed[0]! : parsed;
      expect(`${key.type} ${key.getPublicSSH().toString('base64')}`).toBe(pair.public);
    }
    const pair = generateEd25519Key('relay host key');
    const file = join(directory, 'generated');
    writeFileSync(file, pair.private, { mode: 0o600 });
    expect(execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).trim()).toBe(`${pair.public} relay host key`);
  });
});
