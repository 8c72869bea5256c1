// Inbound session sequence window with replay protection, IPMI v2.0 §6.12.13
// ("sequence number handling"), modelled on FreeIPMI's 32-bit seen-bitmap:
// a number above the highest seen slides the window forward; one below it is
// accepted once while inside the window; 0, duplicates and anything older
// than the window are refused. Comparisons are modulo 2^32 (wraparound).

export class ReplayWindow {
  private highest = 0;
  /** Bit i set = (highest - i) was seen. Bit 0 is `highest` itself. */
  private seen = 0;
  private started = false;

  /**
   * `size`: how far below the highest a late (reordered) packet may be.
   * `aheadLimit`: how far above; larger than `size` because on a lossy link
   * the BMC may send (and we lose) many packets in a row, and refusing the
   * next one would wedge the session. Authenticated packets cannot be forged,
   * so only replays (already seen or too old) matter.
   */
  constructor(private readonly size = 8, private readonly aheadLimit = 256) {
    if (size < 1 || size > 32) throw new RangeError('replay window size is 1..32');
  }

  /** True (and recorded) when `sequence` is new and inside the window. */
  accept(sequence: number): boolean {
    const value = sequence >>> 0;
    if (value === 0) return false;
    if (!this.started) {
      this.started = true;
      this.highest = value;
      this.seen = 1;
      return true;
    }
    const ahead = (value - this.highest) >>> 0;
    if (ahead !== 0 && ahead < 0x80000000) {
      if (ahead > this.aheadLimit) return false;
      this.seen = ahead >= 32 ? 1 : ((this.seen << ahead) | 1) >>> 0;
      this.highest = value;
      return true;
    }
    const behind = (this.highest - value) >>> 0;
    if (behind >= this.size) return false;
    const bit = (1 << behind) >>> 0;
    if ((this.seen & bit) !== 0) return false;
    this.seen = (this.seen | bit) >>> 0;
    return true;
  }
}
