import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LightsoutError, isSlug } from '@lightsout/shared';

/**
 * Trust on first use for BMC certificates. BMCs ship self-signed certificates
 * that no CA vouches for, so the first certificate the agent sees for a BMC is
 * recorded (SHA-256 of the DER, one file per server under the agent's state
 * directory) and every later connection must present the same one. A change
 * is refused with BMC_CERT_MISMATCH until an operator removes the file — a
 * re-keyed BMC and a man in the middle look the same from here.
 */
export type TrustVerdict = 'recorded' | 'match' | 'mismatch';

export class CertificateTrustStore {
  readonly directory: string;

  constructor(directory: string) {
    this.directory = directory;
  }

  fileOf(serverId: string): string {
    if (!isSlug(serverId)) throw new LightsoutError('CONFIG_INVALID', `server id ${JSON.stringify(serverId)} cannot name a trust file`);
    return join(this.directory, `${serverId}.sha256`);
  }

  /** The recorded fingerprint (lower-case hex), or undefined when none is recorded yet. */
  read(serverId: string): string | undefined {
    try {
      const text = readFileSync(this.fileOf(serverId), 'utf8').trim().toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(text)) {
        throw new LightsoutError('CONFIG_INVALID', `trust file ${this.fileOf(serverId)} does not hold a SHA-256 fingerprint`);
      }
      return text;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Compares against the record, recording the fingerprint when there is none. */
  check(serverId: string, fingerprint: string): TrustVerdict {
    const normalized = normalizeFingerprint(fingerprint);
    const recorded = this.read(serverId);
    if (recorded === undefined) {
      mkdirSync(this.directory, { recursive: true, mode: 0o700 });
      const file = this.fileOf(serverId);
      // write-then-rename so a crash never leaves a truncated record that would refuse the BMC
      writeFileSync(`${file}.tmp`, `${normalized}\n`, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
      return 'recorded';
    }
    return recorded === normalized ? 'match' : 'mismatch';
  }
}

/** Accepts `AA:BB:…` (Node's fingerprint256, openssl) or plain hex. */
export function normalizeFingerprint(fingerprint: string): string {
  const hex = fingerprint.replaceAll(':', '').trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new LightsoutError('CONFIG_INVALID', 'a certificate fingerprint must be 32 bytes of SHA-256 in hex');
  return hex;
}
