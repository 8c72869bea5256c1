import type { ConsoleStream } from './console-stream.js';
import { RawChannel } from './raw-channel.js';

/**
 * noVNC's socket (raw-channel.ts) backed by a resumable ConsoleStream. noVNC
 * sees one long-lived socket; drops and resumes underneath are invisible to
 * it because no byte is lost.
 */
export class StreamChannel extends RawChannel {
  #stream: ConsoleStream | null = null;
  /** Bytes that arrived before noVNC saw `open` (the server speaks first in RFB: ProtocolVersion). */
  #early: Uint8Array[] = [];
  #earlyBytes = 0;
  #sentBytes = 0;

  /** Bytes noVNC sent that the stream took (a key press counts once it is here: "Ctrl-Alt-Del sent"). */
  get sentBytes(): number {
    return this.#sentBytes;
  }

  attach(stream: ConsoleStream): void {
    this.#stream = stream;
  }

  /** The stream is live for the first time: noVNC may start the RFB handshake. */
  opened(): void {
    if (!this.markOpen()) return;
    const early = this.#early;
    this.#early = [];
    this.#earlyBytes = 0;
    for (const bytes of early) this.deliver(bytes);
  }

  deliver(bytes: Uint8Array): void {
    if (this.readyState === WebSocket.CONNECTING) {
      // Bounded: a handshake is a few hundred bytes; anything beyond 4 MiB before open is a broken peer.
      if (this.#earlyBytes + bytes.length > 4 * 1024 * 1024) return this.closed(1009, 'too much data before the console opened');
      this.#early.push(bytes.slice());
      this.#earlyBytes += bytes.length;
      return;
    }
    if (this.readyState !== WebSocket.OPEN) return;
    // The stream's own buffer when the view is all of it; a copy otherwise.
    this.emit((bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer) as ArrayBuffer);
  }

  send(data: ArrayBuffer | Uint8Array): void {
    // noVNC reuses its send buffer: copy before the stream keeps the bytes for replay.
    const bytes = data instanceof Uint8Array ? data.slice() : new Uint8Array(data.slice(0));
    if (this.#stream?.write(bytes)) this.#sentBytes += bytes.length;
  }

  close(): void {
    this.#stream?.dispose();
    this.closed(1000, 'closed');
  }
}
