import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { sshString, sshUint32 } from './wire.js';

/**
 * Ed25519 keys in OpenSSH's own private key format, made from node:crypto.
 *
 * ssh2's `utils.generateKeyPairSync('ed25519')` strips leading zero bytes
 * from the public key as if it were an integer, so one key in 256 comes out
 * with a 31-byte key that ssh2 itself and ssh-keygen then refuse ("Malformed
 * OpenSSH private key", "error in libcrypto"). Ed25519 keys are 32 bytes
 * whatever their value (RFC 8709 §4), so the encoding is written here.
 *
 * openssh-key-v1, unencrypted (OpenSSH PROTOCOL.key), every `string` being
 * | length (4, big-endian) | bytes |:
 *
 *   "openssh-key-v1\0"
 *   string  ciphername        "none"
 *   string  kdfname           "none"
 *   string  kdfoptions        ""
 *   uint32  number of keys    1
 *   string  public key blob   | string "ssh-ed25519" | string key (32) |
 *   string  private section:
 *     uint32  checkint        (random, twice the same: a wrong passphrase shows)
 *     uint32  checkint
 *     string  "ssh-ed25519"
 *     string  public key (32)
 *     string  seed (32) || public key (32)
 *     string  comment
 *     bytes   1, 2, 3, … up to a multiple of the cipher's block size (8 for "none")
 *
 * The whole is base64 between BEGIN/END OPENSSH PRIVATE KEY lines, 70
 * characters to a line as ssh-keygen writes it.
 */
const MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
const KEY_TYPE = 'ssh-ed25519';
const ED25519_BYTES = 32;
const BLOCK_SIZE = 8;
const LINE_LENGTH = 70;

export interface Ed25519KeyParts {
  seed: Buffer;
  publicKey: Buffer;
  /** The private section's check integer. */
  checkInt: number;
  comment?: string;
}

export interface OpenSshKeyPair {
  /** PEM-armoured openssh-key-v1, what ssh2's Server and ssh-keygen read. */
  private: string;
  /** `ssh-ed25519 base64`, an authorized_keys line without a comment. */
  public: string;
}

/** The public key blob (RFC 8709 §4): | string "ssh-ed25519" | string key (32) |. */
export function ed25519PublicBlob(publicKey: Buffer): Buffer {
  if (publicKey.length !== ED25519_BYTES) throw new RangeError(`an Ed25519 public key is ${ED25519_BYTES} bytes, not ${publicKey.length}`);
  return Buffer.concat([sshString(KEY_TYPE), sshString(publicKey)]);
}

/** Encodes one unencrypted Ed25519 key as openssh-key-v1. Pure. */
export function encodeOpenSshEd25519(parts: Ed25519KeyParts): string {
  const { seed, publicKey, checkInt, comment = '' } = parts;
  if (seed.length !== ED25519_BYTES) throw new RangeError(`an Ed25519 seed is ${ED25519_BYTES} bytes, not ${seed.length}`);
  const unpadded = Buffer.concat([
    sshUint32(checkInt >>> 0),
    sshUint32(checkInt >>> 0),
    sshString(KEY_TYPE),
    sshString(publicKey),
    sshString(Buffer.concat([seed, publicKey])),
    sshString(comment),
  ]);
  const padding = Buffer.from(Array.from({ length: (BLOCK_SIZE - (unpadded.length % BLOCK_SIZE)) % BLOCK_SIZE }, (_, index) => index + 1));
  const body = Buffer.concat([
    MAGIC,
    sshString('none'),
    sshString('none'),
    sshString(''),
    sshUint32(1),
    sshString(ed25519PublicBlob(publicKey)),
    sshString(Buffer.concat([unpadded, padding])),
  ]);
  const base64 = body.toString('base64');
  const lines: string[] = [];
  for (let start = 0; start < base64.length; start += LINE_LENGTH) lines.push(base64.slice(start, start + LINE_LENGTH));
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

/** A fresh Ed25519 key pair from node:crypto, encoded for ssh2 and OpenSSH. */
export function generateEd25519Key(comment = ''): OpenSshKeyPair {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d!, 'base64url');
  const publicKey = Buffer.from(jwk.x!, 'base64url');
  return {
    private: encodeOpenSshEd25519({ seed, publicKey, checkInt: randomBytes(4).readUInt32BE(0), comment }),
    public: `${KEY_TYPE} ${ed25519PublicBlob(publicKey).toString('base64')}`,
  };
}
