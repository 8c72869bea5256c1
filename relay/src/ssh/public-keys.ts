import { createHash } from 'node:crypto';
import { LightsoutError } from '@lightsout/shared';

/**
 * OpenSSH public keys as users paste them (`ssh-ed25519 AAAA… comment`, the
 * `.pub` file format of sshd(8) AUTHORIZED_KEYS), decoded to what the relay
 * stores and compares: the algorithm, the key blob, its size and its
 * SHA-256 fingerprint. Pure: the blob is read here, not by a crypto library,
 * so a key is refused with a reason before anything else looks at it.
 *
 * Blob layouts (RFC 4253 §6.6, RFC 5656 §3.1, RFC 8709 §4), each field an
 * SSH `string` (| length (4) | bytes |) or `mpint` (a string, two's complement):
 *   ssh-rsa:             | "ssh-rsa" | mpint e | mpint n |
 *   ecdsa-sha2-<curve>:  | "ecdsa-sha2-<curve>" | curve name | Q (uncompressed point) |
 *   ssh-ed25519:         | "ssh-ed25519" | key (32) |
 */
export interface SshPublicKey {
  algorithm: string;
  blob: Buffer;
  bits: number;
  fingerprint: string;
  comment: string;
  /** `algorithm base64` without the comment: the form stored and compared. */
  line: string;
}

/** RSA keys shorter than this are refused (NIST SP 800-131A: 2048 is the floor for signatures). */
export const MIN_RSA_BITS = 2048;
/** Longer keys are no stronger in practice and cost the gateway a slow verify per attempt. */
const MAX_RSA_BITS = 16_384;
const MAX_BLOB_BYTES = 4096;

const ECDSA_CURVES: Record<string, { curve: string; bits: number; pointBytes: number }> = {
  'ecdsa-sha2-nistp256': { curve: 'nistp256', bits: 256, pointBytes: 65 },
  'ecdsa-sha2-nistp384': { curve: 'nistp384', bits: 384, pointBytes: 97 },
  'ecdsa-sha2-nistp521': { curve: 'nistp521', bits: 521, pointBytes: 133 },
};

function invalid(message: string, hint = 'paste the whole line of your .pub file, e.g. ~/.ssh/id_ed25519.pub'): LightsoutError {
  return new LightsoutError('VALIDATION_FAILED', message, { hint });
}

/** Reads SSH `string` fields off a blob; every length is checked against what is left. */
class BlobReader {
  private offset = 0;
  constructor(private readonly blob: Buffer) {}

  string(): Buffer {
    if (this.offset + 4 > this.blob.length) throw invalid('the key blob ends inside a length field');
    const length = this.blob.readUInt32BE(this.offset);
    const start = this.offset + 4;
    if (length > this.blob.length - start) throw invalid('the key blob ends inside a field');
    this.offset = start + length;
    return this.blob.subarray(start, start + length);
  }

  get done(): boolean {
    return this.offset === this.blob.length;
  }
}

/** Significant bits of an unsigned big-endian integer (an mpint's leading zero bytes do not count). */
function bitLength(magnitude: Buffer): number {
  let index = 0;
  while (index < magnitude.length && magnitude[index] === 0) index += 1;
  if (index === magnitude.length) return 0;
  return (magnitude.length - index - 1) * 8 + (32 - Math.clz32(magnitude[index]!));
}

/** `SHA256:` + unpadded base64 of the blob's SHA-256, exactly as `ssh-keygen -l` and sshd's logs print it. */
export function fingerprintOf(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key size of a blob whose algorithm is one we accept; throws VALIDATION_FAILED otherwise. */
function bitsOf(algorithm: string, reader: BlobReader): number {
  if (algorithm === 'ssh-ed25519') {
    if (reader.string().length !== 32) throw invalid('an Ed25519 key is 32 bytes');
    return 256;
  }
  const curve = ECDSA_CURVES[algorithm];
  if (curve !== undefined) {
    if (reader.string().toString('latin1') !== curve.curve) throw invalid(`the curve of ${algorithm} must be ${curve.curve}`);
    const point = reader.string();
    if (point.length !== curve.pointBytes || point[0] !== 0x04) throw invalid(`an ${algorithm} key is an uncompressed point of ${curve.pointBytes} bytes`);
    return curve.bits;
  }
  if (algorithm === 'ssh-rsa') {
    const exponent = reader.string();
    const modulus = reader.string();
    if (bitLength(exponent) === 0 || bitLength(exponent) > 64) throw invalid('the RSA public exponent is not a sane number');
    const bits = bitLength(modulus);
    if (bits < MIN_RSA_BITS) throw invalid(`RSA keys must have at least ${MIN_RSA_BITS} bits; this one has ${bits}`, 'create a new key: ssh-keygen -t ed25519');
    if (bits > MAX_RSA_BITS) throw invalid(`RSA keys may have at most ${MAX_RSA_BITS} bits`);
    return bits;
  }
  throw invalid(`key type ${algorithm} is not accepted (use ssh-ed25519, ecdsa-sha2-nistp256/384/521, or ssh-rsa of ${MIN_RSA_BITS} bits or more)`, 'create a new key: ssh-keygen -t ed25519');
}

/** Parse one public key line (`type base64 [comment]`); options before the type (authorized_keys style) are refused. */
export function parsePublicKey(text: string): SshPublicKey {
  const fields = text.trim().split(/\s+/);
  if (fields.length < 2) throw invalid('expected "<type> <base64 key> [comment]"');
  const [declared, encoded, ...commentWords] = fields as [string, string, ...string[]];
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw invalid('the key is not base64');
  const blob = Buffer.from(encoded, 'base64');
  if (blob.length > MAX_BLOB_BYTES) throw invalid(`the key blob is longer than ${MAX_BLOB_BYTES} bytes`);
  const reader = new BlobReader(blob);
  const algorithm = reader.string().toString('latin1');
  if (algorithm !== declared) throw invalid(`the line says ${declared.slice(0, 64)} but the key inside is ${algorithm.slice(0, 64)}`);
  const bits = bitsOf(algorithm, reader);
  if (!reader.done) throw invalid('the key blob has bytes after its last field');
  return { algorithm, blob, bits, fingerprint: fingerprintOf(blob), comment: commentWords.join(' ').slice(0, 200), line: `${algorithm} ${blob.toString('base64')}` };
}
