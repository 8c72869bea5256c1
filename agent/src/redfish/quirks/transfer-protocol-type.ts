import type { VirtualMediaQuirk } from './types.js';

/** DSP2046 TransferProtocolType values by URL scheme. */
const PROTOCOL_OF: Record<string, string> = { 'http:': 'HTTP', 'https:': 'HTTPS', 'nfs:': 'NFS', 'smb:': 'CIFS', 'cifs:': 'CIFS', 'ftp:': 'FTP' };

export function transferProtocolOf(imageUrl: string): string | undefined {
  try {
    return PROTOCOL_OF[new URL(imageUrl).protocol];
  } catch {
    return undefined;
  }
}

export const transferProtocolType: VirtualMediaQuirk = {
  name: 'transfer-protocol-type',
  reason: 'iDRAC and some HPE firmware refuse InsertMedia without TransferProtocolType (sushy retries with it, derived from the URL scheme)',
  apply(attempt, imageUrl) {
    const protocol = transferProtocolOf(imageUrl);
    return protocol ? { ...attempt, body: { ...attempt.body, TransferProtocolType: protocol } } : attempt;
  },
};
