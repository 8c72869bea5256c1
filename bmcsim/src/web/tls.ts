import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsMaterial {
  key: string;
  cert: string;
  /** One context for every BMC's HTTPS port (see web/server.ts). */
  secureContext: SecureContext;
  /** SHA-256 of the certificate, colon-separated hex, for pinning in the agent config. */
  fingerprint256: string;
}

/**
 * A self-signed certificate like a factory BMC ships: made at start with the
 * `openssl` CLI (node:crypto cannot issue X.509). One certificate serves the
 * whole fleet unless a BMC asks for its own; the SANs cover every address.
 */
export async function selfSignedCertificate(commonName: string, addresses: readonly string[]): Promise<TlsMaterial> {
  const directory = await mkdtemp(join(tmpdir(), 'bmcsim-tls-'));
  try {
    const keyFile = join(directory, 'key.pem');
    const certFile = join(directory, 'cert.pem');
    // openssl limits one -addext value; keep SANs bounded for 1,000-BMC fleets by
    // naming the loopback ranges' hosts only up to a cap (clients pin fingerprints anyway).
    const sans = ['DNS:localhost', ...addresses.slice(0, 256).map((address) => `IP:${address}`)].join(',');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '825', '-subj', `/O=bmcsim/CN=${commonName}`, '-addext', `subjectAltName=${sans}`], { timeout: 20_000 });
    const key = await readFile(keyFile, 'utf8');
    const cert = await readFile(certFile, 'utf8');
    return { key, cert, secureContext: createSecureContext({ key, cert }), fingerprint256: new X509Certificate(cert).fingerprint256 };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
