/**
 * SSH data type encodings (RFC 4251 §5) the relay writes itself: OpenSSH
 * user certificates (certificates.ts) and private key files (ed25519-key.ts).
 *   uint32  4 bytes, big-endian
 *   uint64  8 bytes, big-endian
 *   string  | uint32 length | bytes |
 */
export function sshString(value: Buffer | string): Buffer {
  const body = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([sshUint32(body.length), body]);
}

export function sshUint32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

export function sshUint64(value: bigint | number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(value));
  return bytes;
}
