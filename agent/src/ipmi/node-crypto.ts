import * as crypto from 'node:crypto';
import { ipmiCryptoFrom, type IpmiCrypto } from '@lightsout/bmc-wire/ipmi';
import { AesCbcByKey } from './aes-cbc.js';
import { RandomPool } from './random-pool.js';

/** IpmiCrypto over node:crypto for sessions that send many packets under one key (aes-cbc.ts, random-pool.ts say why). */
export function createNodeCrypto(): IpmiCrypto {
  const base = ipmiCryptoFrom(crypto);
  const aes = new AesCbcByKey(crypto);
  const random = new RandomPool((bytes) => crypto.randomFillSync(bytes));
  return {
    hmac: base.hmac,
    digest: base.digest,
    aesCbcEncrypt: (key, iv, data) => aes.encrypt(key, iv, data),
    aesCbcDecrypt: (key, iv, data) => aes.decrypt(key, iv, data),
    randomBytes: (length) => random.take(length),
  };
}

/** node:crypto behind the IpmiCrypto interface the pure codecs take. */
export const nodeCrypto: IpmiCrypto = createNodeCrypto();
