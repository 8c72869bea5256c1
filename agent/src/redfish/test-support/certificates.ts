import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

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
