import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';

export interface TestCertificate {
  key: string;
  cert: string;
  /** SHA-256 of the DER certificate, lower-case hex (what the trust store records). */
  fingerprint: string;
  certFile: string;
}

/** Self-signed EC certificates for 127.0.0.1, one per name, as factory BMCs ship them (made by openssl in `directory`). */
export function selfSignedBmcCertificates(directory: string, names: string[]): TestCertificate[] {
  return names.map((name) => {
    const keyFile = join(directory, `${name}.key`);
    const certFile = join(directory, `${name}.pem`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=bmc-${name}`, '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const cert = readFileSync(certFile, 'utf8');
    return { key: readFileSync(keyFile, 'utf8'), cert, fingerprint: createHash('sha256').update(new X509Certificate(cert).raw).digest('hex'), certFile };
  });
}

export interface BmcTlsFixture {
  /** Scratch directory of this test file (the certificates live here; trust stores may too). */
  readonly directory: string;
  /** Two different certificates, "first" and "second". */
  readonly certificates: TestCertificate[];
  /** Run (last first) after each test: servers the test started. */
  readonly cleanups: (() => Promise<void>)[];
}

/** A test file's TLS BMC set-up: certificates made once for the file, the test's servers stopped after each test. */
export function bmcTlsFixture(prefix: string): BmcTlsFixture {
  const fixture = { directory: '', certificates: [] as TestCertificate[], cleanups: [] as (() => Promise<void>)[] };
  beforeAll(() => {
    fixture.directory = mkdtempSync(join(tmpdir(), prefix));
    fixture.certificates.push(...selfSignedBmcCertificates(fixture.directory, ['first', 'second']));
  });
  afterAll(() => rmSync(fixture.directory, { recursive: true, force: true }));
  afterEach(async () => {
    for (const cleanup of fixture.cleanups.splice(0).reverse()) await cleanup();
  });
  return fixture;
}
