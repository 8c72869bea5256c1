import { LightsoutError } from '@lightsout/shared';
import { bytesEqual } from '../../constant-time.js';
import { desEcbEncrypt } from '../des.js';
import { decoded, type Decoded, needMore } from '../wire.js';
import { type SecurityStep, type SecurityType } from './types.js';

// RFC 6143 §7.2.2 VNC Authentication:
// server → client: | challenge (16) |
// client → server: | response (16) |   DES-ECB(key, challenge), two 8-byte blocks
export const VNC_AUTH_CHALLENGE_LENGTH = 16;

/**
 * The DES key: the password's first 8 bytes, NUL-padded, with each byte's
 * bits mirrored. The RFC does not say so, but every server since the
 * original ORL vncviewer loads key bits LSB-first, so this is what they check.
 */
export function vncAuthKey(password: string | Uint8Array): Uint8Array {
  const bytes = typeof password === 'string' ? new TextEncoder().encode(password) : password;
  const key = new Uint8Array(8);
  for (let index = 0; index < Math.min(8, bytes.length); index++) key[index] = reverseBits(bytes[index]!);
  return key;
}

export function vncAuthResponse(password: string | Uint8Array, challenge: Uint8Array): Uint8Array {
  if (challenge.length !== VNC_AUTH_CHALLENGE_LENGTH) throw new RangeError(`VNC auth challenge must be ${VNC_AUTH_CHALLENGE_LENGTH} bytes`);
  return desEcbEncrypt(vncAuthKey(password), challenge);
}

/** The server's check of a client's response (constant time): bmcsim's side of §7.2.2. */
export function vncAuthMatches(password: string | Uint8Array, challenge: Uint8Array, response: Uint8Array): boolean {
  return bytesEqual(vncAuthResponse(password, challenge), response);
}

export function decodeVncAuthChallenge(bytes: Uint8Array): Decoded<Uint8Array> {
  if (bytes.length < VNC_AUTH_CHALLENGE_LENGTH) return needMore(VNC_AUTH_CHALLENGE_LENGTH);
  return decoded(bytes.slice(0, VNC_AUTH_CHALLENGE_LENGTH), VNC_AUTH_CHALLENGE_LENGTH);
}

function reverseBits(byte: number): number {
  let reversed = 0;
  for (let bit = 0; bit < 8; bit++) reversed |= ((byte >> bit) & 1) << (7 - bit);
  return reversed;
}

export const vncAuthSecurity: SecurityType = {
  type: 2,
  name: 'VncAuth',
  preference: 50,
  resultBefore38: true,
  start(credentials) {
    const password = credentials.password;
    // Refuse before answering: a response computed from an empty key would
    // just be a wrong password and might count against a lockout.
    if (password === undefined) {
      throw new LightsoutError('BMC_AUTH_FAILED', 'RFB: the BMC requires VNC authentication but no VNC password is configured for it', {
        hint: 'Set the VNC password for this server in the agent configuration.',
      });
    }
    return {
      opening: undefined,
      receive(bytes): Decoded<SecurityStep> {
        const challenge = decodeVncAuthChallenge(bytes);
        if (challenge.kind === 'needMore') return challenge;
        return decoded({ reply: vncAuthResponse(password, challenge.value), done: true }, challenge.length);
      },
    };
  },
};
