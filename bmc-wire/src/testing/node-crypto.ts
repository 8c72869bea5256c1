import * as crypto from 'node:crypto';
import { ipmiCryptoFrom, type IpmiCrypto } from '../ipmi/crypto.js';

/** node:crypto for the codec tests, as the agent and bmcsim bind it. */
export const nodeCrypto: IpmiCrypto = ipmiCryptoFrom(crypto);
