import * as crypto from 'node:crypto';
import { ipmiCryptoFrom, type IpmiCrypto } from '@lightsout/bmc-wire/ipmi';

/** node:crypto behind the IpmiCrypto interface the pure codecs take. */
export const nodeCrypto: IpmiCrypto = ipmiCryptoFrom(crypto);
