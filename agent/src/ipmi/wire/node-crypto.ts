import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import type { IpmiCrypto } from './crypto.js';

/** node:crypto behind the IpmiCrypto interface; the one wire file that touches node:*. */
export const nodeCrypto: IpmiCrypto = {
  hmac: (hash, key, data) => new Uint8Array(createHmac(hash, key).update(data).digest()),
  digest: (hash, data) => new Uint8Array(createHash(hash).update(data).digest()),
  aesCbcEncrypt(key, iv, data) {
    const cipher = createCipheriv('aes-128-cbc', key, iv).setAutoPadding(false);
    return new Uint8Array(Buffer.concat([cipher.update(data), cipher.final()]));
  },
  aesCbcDecrypt(key, iv, data) {
    const decipher = createDecipheriv('aes-128-cbc', key, iv).setAutoPadding(false);
    return new Uint8Array(Buffer.concat([decipher.update(data), decipher.final()]));
  },
  randomBytes: (length) => new Uint8Array(randomBytes(length)),
};
