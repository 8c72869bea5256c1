/**
 * Single DES, encryption only, ECB — exactly what VNC authentication needs
 * (RFC 6143 §7.2.2) and nothing more. Written here because OpenSSL 3 moved
 * DES to the legacy provider, so node:crypto may refuse `des-ecb` depending
 * on how Node was built. Speed is irrelevant: two blocks per connection.
 *
 * Tables are FIPS 46-3; bit 1 is the most significant bit of byte 0.
 * Verified against python3-cryptography in bmc-wire/fixtures/rfb/des-vectors.json.
 */

// Initial permutation (FIPS 46-3, "IP").
const INITIAL_PERMUTATION = [
  58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4,
  62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
  57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3,
  61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];

// Final permutation (IP⁻¹).
const FINAL_PERMUTATION = [
  40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31,
  38, 6, 46, 14, 54, 22, 62, 30, 37, 5, 45, 13, 53, 21, 61, 29,
  36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27,
  34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
];

// Expansion of the 32-bit half block to 48 bits ("E").
const EXPANSION = [
  32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17,
  16, 17, 18, 19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
];

// Permutation after the S-boxes ("P").
const ROUND_PERMUTATION = [
  16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10,
  2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25,
];

// Permuted choice 1: 64-bit key → 56 bits (parity bits dropped).
const KEY_CHOICE_1 = [
  57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18,
  10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36,
  63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22,
  14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4,
];

// Permuted choice 2: 56-bit key state → 48-bit round key.
const KEY_CHOICE_2 = [
  14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4,
  26, 8, 16, 7, 27, 20, 13, 2, 41, 52, 31, 37, 47, 55, 30, 40,
  51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];

const KEY_SHIFTS = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];

// S-boxes S1..S8, each 4 rows × 16 columns.
const SUBSTITUTION_BOXES = [
  [14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, 0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
    4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, 15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13],
  [15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, 3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
    0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, 13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9],
  [10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, 13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
    13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, 1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12],
  [7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, 13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
    10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, 3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14],
  [2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, 14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
    4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, 11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3],
  [12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, 10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
    9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, 4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13],
  [4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, 13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
    1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, 6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12],
  [13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, 1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
    7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, 2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11],
];

type Bits = Uint8Array; // one 0/1 entry per bit, index 0 = FIPS bit 1

function bytesToBits(bytes: Uint8Array): Bits {
  const bits = new Uint8Array(bytes.length * 8);
  for (let index = 0; index < bits.length; index++) bits[index] = (bytes[index >> 3]! >> (7 - (index & 7))) & 1;
  return bits;
}

function bitsToBytes(bits: Bits): Uint8Array {
  const bytes = new Uint8Array(bits.length / 8);
  for (let index = 0; index < bits.length; index++) bytes[index >> 3]! |= bits[index]! << (7 - (index & 7));
  return bytes;
}

function permute(input: Bits, table: readonly number[]): Bits {
  const output = new Uint8Array(table.length);
  for (let index = 0; index < table.length; index++) output[index] = input[table[index]! - 1]!;
  return output;
}

function rotateLeft(half: Bits, count: number): Bits {
  const output = new Uint8Array(half.length);
  for (let index = 0; index < half.length; index++) output[index] = half[(index + count) % half.length]!;
  return output;
}

function roundKeys(key: Uint8Array): Bits[] {
  const chosen = permute(bytesToBits(key), KEY_CHOICE_1);
  let left = chosen.subarray(0, 28);
  let right = chosen.subarray(28, 56);
  const keys: Bits[] = [];
  for (const shift of KEY_SHIFTS) {
    left = rotateLeft(left, shift);
    right = rotateLeft(right, shift);
    const joined = new Uint8Array(56);
    joined.set(left, 0);
    joined.set(right, 28);
    keys.push(permute(joined, KEY_CHOICE_2));
  }
  return keys;
}

function feistel(right: Bits, roundKey: Bits): Bits {
  const expanded = permute(right, EXPANSION);
  const substituted = new Uint8Array(32);
  for (let box = 0; box < 8; box++) {
    const bits = expanded.subarray(box * 6, box * 6 + 6).map((bit, index) => bit ^ roundKey[box * 6 + index]!);
    const row = (bits[0]! << 1) | bits[5]!;
    const column = (bits[1]! << 3) | (bits[2]! << 2) | (bits[3]! << 1) | bits[4]!;
    const value = SUBSTITUTION_BOXES[box]![row * 16 + column]!;
    for (let bit = 0; bit < 4; bit++) substituted[box * 4 + bit] = (value >> (3 - bit)) & 1;
  }
  return permute(substituted, ROUND_PERMUTATION);
}

function encryptBlock(block: Uint8Array, keys: Bits[]): Uint8Array {
  const permuted = permute(bytesToBits(block), INITIAL_PERMUTATION);
  let left: Bits = permuted.slice(0, 32);
  let right: Bits = permuted.slice(32, 64);
  for (const roundKey of keys) {
    const mixed = feistel(right, roundKey);
    const nextRight = left.map((bit, index) => bit ^ mixed[index]!);
    left = right;
    right = nextRight;
  }
  // The halves are swapped before the final permutation (R16 ‖ L16).
  const preOutput = new Uint8Array(64);
  preOutput.set(right, 0);
  preOutput.set(left, 32);
  return bitsToBytes(permute(preOutput, FINAL_PERMUTATION));
}

/** DES-ECB encryption of `data` (a multiple of 8 bytes) with an 8-byte key. */
export function desEcbEncrypt(key: Uint8Array, data: Uint8Array): Uint8Array {
  if (key.length !== 8) throw new RangeError(`DES key must be 8 bytes, got ${key.length}`);
  if (data.length % 8 !== 0) throw new RangeError(`DES-ECB input must be a multiple of 8 bytes, got ${data.length}`);
  const keys = roundKeys(key);
  const output = new Uint8Array(data.length);
  for (let offset = 0; offset < data.length; offset += 8) output.set(encryptBlock(data.subarray(offset, offset + 8), keys), offset);
  return output;
}
