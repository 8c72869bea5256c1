/**
 * Random bytes handed out from a block filled by the CSPRNG: every RMCP+
 * packet the agent encrypts takes a fresh 16-byte IV (IPMI v2.0 §13.29), and
 * one randomFillSync per packet (a call into OpenSSL's locked DRBG) cost more
 * than the packet's AES. Each byte is handed out once; a request larger than
 * the block is filled directly.
 */
export class RandomPool {
  #block: Uint8Array;
  #used: number;

  constructor(
    private readonly fill: (bytes: Uint8Array) => void,
    readonly blockSize = 4096,
  ) {
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError('random pool block size must be a positive integer');
    this.#block = new Uint8Array(blockSize);
    this.#used = blockSize;
  }

  take(length: number): Uint8Array {
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`random byte count ${length}`);
    const bytes = new Uint8Array(length);
    if (length > this.blockSize) {
      this.fill(bytes);
      return bytes;
    }
    if (this.#used + length > this.blockSize) {
      // A fresh block, never the old one refilled in place: nothing handed out shares its buffer.
      this.#block = new Uint8Array(this.blockSize);
      this.fill(this.#block);
      this.#used = 0;
    }
    bytes.set(this.#block.subarray(this.#used, this.#used + length));
    // Spent bytes are zeroed, so the block never holds what it already handed out.
    this.#block.fill(0, this.#used, this.#used + length);
    this.#used += length;
    return bytes;
  }
}
