import { randomBytes } from 'node:crypto';
import { LightsoutError } from '@lightsout/shared';
import ssh2 from 'ssh2';
import { sshString, sshUint32, sshUint64 } from './wire.js';

const { utils } = ssh2;

/**
 * OpenSSH user certificates (PROTOCOL.certkeys), the Ed25519 kind only —
 * the one `lightsout ssh login` makes. ssh2 hands a certificate offered for
 * authentication through as an opaque blob, so the front door reads it here.
 *
 *   string    "ssh-ed25519-cert-v01@openssh.com"
 *   string    nonce
 *   string    pk                  (the user's Ed25519 public key, 32 bytes)
 *   uint64    serial
 *   uint32    type                (1 user, 2 host)
 *   string    key id
 *   string    valid principals    (packed strings)
 *   uint64    valid after         (seconds since epoch)
 *   uint64    valid before
 *   string    critical options
 *   string    extensions          (name, string data pairs, sorted by name)
 *   string    reserved
 *   string    signature key       (the CA's public key blob)
 *   string    signature           (over everything above, by the CA)
 */
export const ED25519_CERT = 'ssh-ed25519-cert-v01@openssh.com';
const SSH_CERT_TYPE_USER = 1;
/** Extensions a login certificate carries: a terminal is what a console needs (the others are OpenSSH's defaults). */
const EXTENSIONS = ['permit-pty'];
/**
 * The relay's own extension: when the person signed in (the access token's
 * auth_time the certificate was issued with), as decimal epoch seconds in a
 * string. The front door judges step-up by it, not by the issue time: a
 * certificate is not a sign-in. OpenSSH ignores an extension it does not
 * know (PROTOCOL.certkeys), so the certificate works with any client.
 */
export const AUTH_TIME_EXTENSION = 'auth-time@lightsout';

/**
 * The CA signature algorithms a certificate may carry, with the CA key type
 * each belongs to and the hash ssh2 verifies it with. RSA signs with SHA-2
 * only (RFC 8332 §3): `ssh-rsa` (SHA-1) is refused, as OpenSSH's
 * CASignatureAlgorithms default has refused it since 8.2.
 */
const CA_SIGNATURES = new Map<string, { keyType: string; hash?: string }>([
  ['ssh-ed25519', { keyType: 'ssh-ed25519' }],
  ['rsa-sha2-256', { keyType: 'ssh-rsa', hash: 'sha256' }],
  ['rsa-sha2-512', { keyType: 'ssh-rsa', hash: 'sha512' }],
]);

export interface UserCertificate {
  /** The user's key as `ssh-ed25519 base64`, to check the authentication signature with. */
  publicKey: string;
  serial: bigint;
  keyId: string;
  principals: string[];
  validAfter: number;
  validBefore: number;
  criticalOptions: string[];
  /** When its holder signed in (AUTH_TIME_EXTENSION), if it says. */
  authTime?: number;
  /** The CA's public key blob. */
  signatureKey: Buffer;
}

class Reader {
  private offset = 0;
  constructor(private readonly bytes: Buffer) {}
  string(): Buffer {
    const length = this.u32();
    if (this.offset + length > this.bytes.length) throw malformed('a string runs past the end');
    const value = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
  u32(): number {
    if (this.offset + 4 > this.bytes.length) throw malformed('cut short');
    const value = this.bytes.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  u64(): bigint {
    if (this.offset + 8 > this.bytes.length) throw malformed('cut short');
    const value = this.bytes.readBigUInt64BE(this.offset);
    this.offset += 8;
    return value;
  }
  get position(): number {
    return this.offset;
  }
  get done(): boolean {
    return this.offset === this.bytes.length;
  }
}

function malformed(why: string): LightsoutError {
  return new LightsoutError('UNAUTHENTICATED', `malformed SSH certificate: ${why}`);
}

function packedStrings(buffer: Buffer): string[] {
  const reader = new Reader(buffer);
  const values: string[] = [];
  while (!reader.done) values.push(reader.string().toString('utf8'));
  return values;
}

/** A key parsed by ssh2 from `algorithm base64`, or an error. */
function parsedKey(line: string) {
  const parsed = utils.parseKey(line);
  if (parsed instanceof Error) throw parsed;
  return Array.isArray(parsed) ? parsed[0]! : parsed;
}

/**
 * Reads an Ed25519 user certificate and checks its CA signature against
 * `caPublicKey` (`ssh-ed25519 base64`; an RSA CA's signature must be
 * rsa-sha2-256/512, CA_SIGNATURES). The validity window and principals
 * are the caller's to judge (checkCertificate). Throws UNAUTHENTICATED.
 */
export function readCertificate(blob: Buffer, caPublicKey: string): UserCertificate {
  const reader = new Reader(blob);
  const type = reader.string().toString('latin1');
  if (type !== ED25519_CERT) throw malformed(`type ${type.slice(0, 64)} (only ${ED25519_CERT})`);
  reader.string(); // nonce
  const pk = reader.string();
  if (pk.length !== 32) throw malformed('an Ed25519 key is 32 bytes');
  const serial = reader.u64();
  const certType = reader.u32();
  if (certType !== SSH_CERT_TYPE_USER) throw new LightsoutError('UNAUTHENTICATED', 'a host certificate cannot log in');
  const keyId = reader.string().toString('utf8');
  const principals = packedStrings(reader.string());
  const validAfter = reader.u64();
  const validBefore = reader.u64();
  const criticalOptions = packedStrings(reader.string()).filter((_value, index) => index % 2 === 0);
  const authTime = authTimeOf(reader.string());
  reader.string(); // reserved
  const signatureKey = reader.string();
  const signed = blob.subarray(0, reader.position);
  const signature = new Reader(reader.string());
  const signatureType = signature.string().toString('latin1');
  const signatureBytes = signature.string();
  if (!reader.done) throw malformed('bytes after the signature');
  if (signatureType === 'ssh-rsa') throw new LightsoutError('UNAUTHENTICATED', 'the certificate\'s CA signature is RSA with SHA-1 (ssh-rsa), which is refused: sign with rsa-sha2-256 or rsa-sha2-512');
  const ca = parsedKey(caPublicKey);
  const algorithm = CA_SIGNATURES.get(signatureType);
  if (algorithm === undefined || algorithm.keyType !== ca.type || !signatureKey.equals(ca.getPublicSSH())) throw new LightsoutError('UNAUTHENTICATED', 'the certificate is not signed by this deployment\'s SSH certificate authority');
  if (ca.verify(signed, signatureBytes, algorithm.hash) !== true) throw new LightsoutError('UNAUTHENTICATED', 'the certificate\'s signature does not verify');
  return {
    publicKey: `ssh-ed25519 ${Buffer.concat([sshString('ssh-ed25519'), sshString(pk)]).toString('base64')}`,
    serial,
    keyId,
    principals,
    // uint64 "forever" (2^64-1) is clamped; seconds fit a double long before that matters.
    validAfter: Number(validAfter > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : validAfter),
    validBefore: Number(validBefore > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : validBefore),
    criticalOptions,
    ...(authTime === undefined ? {} : { authTime }),
    signatureKey,
  };
}

/** AUTH_TIME_EXTENSION from the extensions field (name, data pairs), or undefined: absent or not a number of seconds. */
function authTimeOf(extensions: Buffer): number | undefined {
  const reader = new Reader(extensions);
  while (!reader.done) {
    const name = reader.string().toString('latin1');
    const data = reader.string();
    if (name !== AUTH_TIME_EXTENSION) continue;
    const text = new Reader(data).string().toString('latin1');
    return /^\d{1,12}$/.test(text) ? Number(text) : undefined;
  }
  return undefined;
}

/**
 * What a certificate may open at `now` (seconds): inside its validity window,
 * no critical option we would have to enforce (OpenSSH's rule: refuse an
 * option you do not know), and `expectedPrincipal` among its principals.
 */
export function checkCertificate(certificate: UserCertificate, expectedPrincipal: string, now: number): void {
  if (now < certificate.validAfter) throw new LightsoutError('UNAUTHENTICATED', 'the SSH certificate is not valid yet');
  if (now >= certificate.validBefore) throw new LightsoutError('TOKEN_EXPIRED', 'the SSH certificate has expired', { hint: 'run lightsout ssh login again' });
  if (certificate.criticalOptions.length > 0) throw new LightsoutError('UNAUTHENTICATED', `the SSH certificate has critical options this gateway does not enforce (${certificate.criticalOptions.join(', ')})`);
  if (!certificate.principals.includes(expectedPrincipal)) throw new LightsoutError('UNAUTHENTICATED', 'the SSH certificate is not for this account');
}

export interface CertificateRequest {
  /** The user's public key, `ssh-ed25519 base64 [comment]`. */
  publicKey: string;
  keyId: string;
  principals: string[];
  validAfter: number;
  validBefore: number;
  serial: bigint;
  /** When the person signed in (epoch seconds), carried as AUTH_TIME_EXTENSION. */
  authTime?: number;
}

/** Signs an Ed25519 user certificate with the CA's private key (OpenSSH format); returns the `-cert.pub` line. */
export function signCertificate(request: CertificateRequest, caPrivateKey: string): string {
  const user = parsedKey(request.publicKey.trim().split(/\s+/).slice(0, 2).join(' '));
  if (user.type !== 'ssh-ed25519') throw new LightsoutError('VALIDATION_FAILED', `certificates are issued for Ed25519 keys only (got ${user.type})`, { hint: 'ssh-keygen -t ed25519' });
  const blobReader = new Reader(user.getPublicSSH());
  blobReader.string();
  const pk = blobReader.string();
  const ca = parsedKey(caPrivateKey);
  const body = Buffer.concat([
    sshString(ED25519_CERT),
    sshString(randomBytes(32)),
    sshString(pk),
    sshUint64(request.serial),
    sshUint32(SSH_CERT_TYPE_USER),
    sshString(request.keyId),
    sshString(Buffer.concat(request.principals.map((principal) => sshString(principal)))),
    sshUint64(request.validAfter),
    sshUint64(request.validBefore),
    sshString(Buffer.alloc(0)),
    // Sorted by name, as PROTOCOL.certkeys requires ("auth-time@…" before "permit-pty").
    sshString(
      Buffer.concat([
        ...(request.authTime === undefined ? [] : [Buffer.concat([sshString(AUTH_TIME_EXTENSION), sshString(sshString(String(Math.floor(request.authTime))))])]),
        ...EXTENSIONS.map((name) => Buffer.concat([sshString(name), sshString(Buffer.alloc(0))])),
      ]),
    ),
    sshString(Buffer.alloc(0)),
    sshString(ca.getPublicSSH()),
  ]);
  const signature = ca.sign(body);
  if (signature instanceof Error) throw signature;
  const certificate = Buffer.concat([body, sshString(Buffer.concat([sshString(ca.type), sshString(signature)]))]);
  return `${ED25519_CERT} ${certificate.toString('base64')}`;
}

/**
 * RFC 4252 §7 with a certificate: the client signed the session data with
 * the certificate's key. ssh2 passes the signature on as the whole SSH
 * signature blob when the algorithm is a certificate's (string type,
 * string signature); a bare one is taken as it is.
 */
export function verifyCertificateSignature(certificate: UserCertificate, data: Buffer, signature: Buffer): boolean {
  let raw = signature;
  if (signature.length > 4 + 'ssh-ed25519'.length && signature.subarray(4, 4 + 'ssh-ed25519'.length).toString('latin1') === 'ssh-ed25519') {
    const reader = new Reader(signature);
    reader.string();
    raw = reader.string();
  }
  return parsedKey(certificate.publicKey).verify(data, raw) === true;
}
