/**
 * The playback position of a recording in seconds, from a monotonic clock
 * (`now` in ms, performance.now in the page): play/pause, speed and seek
 * change the base; the position is derived, never accumulated per frame, so
 * it does not drift with the frame rate.
 */
export class PlaybackClock {
  private base = 0;
  private startedAt: number | null = null;
  private rate = 1;

  constructor(
    readonly duration: number,
    private readonly now: () => number,
  ) {}

  get playing(): boolean {
    return this.startedAt !== null;
  }

  get speed(): number {
    return this.rate;
  }

  /** Seconds from the start, clamped to the duration. */
  position(): number {
    const running = this.startedAt === null ? 0 : ((this.now() - this.startedAt) * this.rate) / 1000;
    return Math.min(this.duration, this.base + running);
  }

  get ended(): boolean {
    return this.position() >= this.duration;
  }

  play(): void {
    if (this.startedAt !== null) return;
    // Playing at the end starts over, as media players do.
    if (this.base >= this.duration) this.base = 0;
    this.startedAt = this.now();
  }

  pause(): void {
    this.base = this.position();
    this.startedAt = null;
  }

  setSpeed(speed: number): void {
    const playing = this.playing;
    this.pause();
    this.rate = speed;
    if (playing) this.startedAt = this.now();
  }

  seek(seconds: number): void {
    this.base = Math.max(0, Math.min(this.duration, seconds));
    if (this.startedAt !== null) this.startedAt = this.now();
  }
}
