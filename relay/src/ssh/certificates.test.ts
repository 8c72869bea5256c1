import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCertificate, readCertificate, signCertificate } from './certificates.js';
import { generateEd25519Key } from './ed25519-key.js';

// Both directions against Debian's ssh-keygen: a certificate it signs reads
// here, and one signed here is one it reads back field for field.
let directory: string;
let ca: { private: string; public: string };
let userPublicKey: string;

const blobOf = (line: string) => Buffer.from(line.trim().split(/\s+/)[1]!, 'base64');

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'lightsout-ssh-cert-'));
  ca = generateEd25519Key();
  writeFileSync(join(directory, 'ca'), ca.private, { mode: 0o600 });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@laptop', '-f', join(directory, 'user')]);
  userPublicKey = readFileSync(join(directory, 'user.pub'), 'utf8').trim();
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('OpenSSH user certificates (PROTOCOL.certkeys)', () => {
  it('reads a certificate ssh-keygen signed with the CA key', () => {
    execFileSync('ssh-keygen', ['-q', '-s', join(directory, 'ca'), '-I', 'alice-cert', '-n', 'alice,ops', '-z', '42', '-V', '+1h', join(directory, 'user.pub')]);
    const certificate = readCertificate(blobOf(readFileSync(join(directory, 'user-cert.pub'), 'utf8')), ca.public);
    expect(certificate).toMatchObject({ keyId: 'alice-cert', principals: ['alice', 'ops'], serial: 42n, criticalOptions: [] });
    expect(certificate.publicKey).toBe(userPublicKey.split(' ').slice(0, 2).join(' '));
    const now = Math.floor(Date.now() / 1000);
    expect(certificate.validBefore - certificate.validAfter).toBeGreaterThanOrEqual(3600);
    expect(() => checkCertificate(certificate, 'alice', now)).not.toThrow();
    expect(() => checkCertificate(certificate, 'bob', now)).toThrow(/not for this account/);
    expect(() => checkCertificate(certificate, 'alice', certificate.validBefore)).toThrow(expect.objectContaining({ code: 'TOKEN_EXPIRED' }));
    expect(() => checkCertificate(certificate, 'alice', certificate.validAfter - 1)).toThrow(/not valid yet/);
  });

  it('refuses a certificate of another CA, one with a flipped bit, and critical options it would have to enforce', () => {
    const other = generateEd25519Key();
    writeFileSync(join(directory, 'other-ca'), other.private, { mode: 0o600 });
    execFileSync('ssh-keygen', ['-q', '-s', join(directory, 'other-ca'), '-I', 'x', '-n', 'alice', '-V', '+1h', join(directory, 'user.pub')]);
    expect(() => readCertificate(blobOf(readFileSync(join(directory, 'user-cert.pub'), 'utf8')), ca.public)).toThrow(/not signed by this deployment/);
    execFileSync('ssh-keygen', ['-q', '-s', join(directory, 'ca'), '-I', 'x', '-n', 'alice', '-O', 'force-command=/bin/true', '-V', '+1h', join(directory, 'user.pub')]);
    const blob = blobOf(readFileSync(join(directory, 'user-cert.pub'), 'utf8'));
    const forced = readCertificate(blob, ca.public);
    expect(() => checkCertificate(forced, 'alice', Math.floor(Date.now() / 1000))).toThrow(/critical options .*force-command/);
    const tampered = Buffer.from(blob);
    tampered[120] ^= 1;
    expect(() => readCertificate(tampered, ca.public)).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
  });

  it('refuses a CA signature made with RSA/SHA-1 (ssh-rsa), and reads one made with rsa-sha2-256 or rsa-sha2-512 (RFC 8332)', () => {
    // The deployment's CA is Ed25519 (host-key.ts); an RSA CA shows what readCertificate takes from any CA key.
    execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', join(directory, 'rsa-ca')]);
    const rsaCa = readFileSync(join(directory, 'rsa-ca.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    const signedWith = (algorithm: string) => {
      execFileSync('ssh-keygen', ['-q', '-s', join(directory, 'rsa-ca'), '-t', algorithm, '-I', `signed-${algorithm}`, '-n', 'alice', '-V', '+1h', join(directory, 'user.pub')]);
      return blobOf(readFileSync(join(directory, 'user-cert.pub'), 'utf8'));
    };
    expect(() => readCertificate(signedWith('ssh-rsa'), rsaCa)).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED', message: 'the certificate\'s CA signature is RSA with SHA-1 (ssh-rsa), which is refused: sign with rsa-sha2-256 or rsa-sha2-512' }));
    expect(readCertificate(signedWith('rsa-sha2-256'), rsaCa)).toMatchObject({ keyId: 'signed-rsa-sha2-256', principals: ['alice'] });
    expect(readCertificate(signedWith('rsa-sha2-512'), rsaCa)).toMatchObject({ keyId: 'signed-rsa-sha2-512', principals: ['alice'] });
    // One signed with SHA-256 and relabelled SHA-512 does not verify.
    const relabelled = signedWith('rsa-sha2-256');
    const at = relabelled.lastIndexOf(Buffer.from('rsa-sha2-256'));
    relabelled.write('rsa-sha2-512', at, 'latin1');
    expect(() => readCertificate(relabelled, rsaCa)).toThrow(/does not verify/);
  });

  it('signs a certificate that ssh-keygen -L reads back: key, principals, validity, permit-pty', () => {
    const line = signCertificate({ publicKey: userPublicKey, keyId: 'lightsout:demo:alice', principals: ['alice'], validAfter: 1_800_000_000, validBefore: 1_800_003_600, serial: 7n }, ca.private);
    writeFileSync(join(directory, 'signed-cert.pub'), `${line}\n`);
    const listed = execFileSync('ssh-keygen', ['-L', '-f', join(directory, 'signed-cert.pub')], { encoding: 'utf8' });
    expect(listed).toContain('Type: ssh-ed25519-cert-v01@openssh.com user certificate');
    expect(listed).toContain('Key ID: "lightsout:demo:alice"');
    expect(listed).toContain('Serial: 7');
    expect(listed).toMatch(/Principals: \n\s+alice\n/);
    expect(listed).toMatch(/Critical Options: \(none\)/);
    expect(listed).toMatch(/Extensions: \n\s+permit-pty\n/);
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(directory, 'user.pub')], { encoding: 'utf8' }).split(' ')[1]!;
    expect(listed).toContain(`Public key: ED25519-CERT ${fingerprint}`);
    expect(readCertificate(blobOf(line), ca.public)).toMatchObject({ principals: ['alice'], validAfter: 1_800_000_000, validBefore: 1_800_003_600 });
  });

  it('carries the sign-in time as the auth-time@lightsout extension, encoded as ssh-keygen encodes an extension with contents', () => {
    const line = signCertificate({ publicKey: userPublicKey, keyId: 'lightsout:demo:alice', principals: ['alice'], validAfter: 1_800_000_000, validBefore: 1_800_003_600, serial: 8n, authTime: 1_799_990_000 }, ca.private);
    writeFileSync(join(directory, 'timed-cert.pub'), `${line}\n`);
    const listed = execFileSync('ssh-keygen', ['-L', '-f', join(directory, 'timed-cert.pub')], { encoding: 'utf8' });
    expect(listed).toMatch(/Extensions: \n\s+auth-time@lightsout UNKNOWN OPTION[^\n]*\n\s+permit-pty\n/);
    expect(readCertificate(blobOf(line), ca.public).authTime).toBe(1_799_990_000);
    // The same extension written by ssh-keygen (-O extension:name=contents) reads the same.
    execFileSync('ssh-keygen', ['-q', '-s', join(directory, 'ca'), '-I', 'timed', '-n', 'alice', '-O', 'extension:auth-time@lightsout=1799990000', '-V', '+1h', join(directory, 'user.pub')]);
    expect(readCertificate(blobOf(readFileSync(join(directory, 'user-cert.pub'), 'utf8')), ca.public).authTime).toBe(1_799_990_000);
    // None, or not a number of seconds: no sign-in time.
    expect(readCertificate(blobOf(signCertificate({ publicKey: userPublicKey, keyId: 'x', principals: ['alice'], validAfter: 0, validBefore: 1, serial: 9n }, ca.private)), ca.public)).not.toHaveProperty('authTime');
    execFileSync('ssh-keygen', ['-q', '-s', join(directory, 'ca'), '-I', 'timed', '-n', 'alice', '-O', 'extension:auth-time@lightsout=-5', '-V', '+1h', join(directory, 'user.pub')]);
    expect(readCertificate(blobOf(readFileSync(join(directory, 'user-cert.pub'), 'utf8')), ca.public)).not.toHaveProperty('authTime');
  });

  it('issues certificates for Ed25519 keys only', () => {
    execFileSync('ssh-keygen', ['-q', '-t', 'ecdsa', '-N', '', '-f', join(directory, 'ecdsa')]);
    expect(() => signCertificate({ publicKey: readFileSync(join(directory, 'ecdsa.pub'), 'utf8'), keyId: 'x', principals: ['alice'], validAfter: 0, validBefore: 1, serial: 1n }, ca.private)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });
});
