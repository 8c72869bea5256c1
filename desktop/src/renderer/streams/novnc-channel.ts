import type { ConsoleStream } from './console-stream.js';

/**
 * A WebSocket look-alike for noVNC's RFB (it accepts any "raw channel" with
 * send/close/binaryType/readyState/on* — see noVNC core/websock.js), backed by
 * a resumable ConsoleStream. noVNC sees one long-lived socket; drops and
 * resumes underneath are invisible to it because no byte is lost.
 */
export class StreamChannel {
  binaryType: BinaryType = 'arraybuffer';
  protocol = '';
  readyState: number = WebSocket.CONNECTING;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent<ArrayBuffer>) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  #stream: ConsoleStream | null = null;
  /** Bytes that arrived before noVNC saw `open` (the server speaks first in RFB: ProtocolVersion). */
  #early: Uint8Array[] = [];
  #earlyBytes = 0;

  attach(stream: ConsoleStream): void {
    this.#stream = stream;
  }

  /** The stream is live for the first time: noVNC may start the RFB handshake. */
  opened(): void {
    if (this.readyState !== WebSocket.CONNECTING) return;
    this.readyState = WebSocket.OPEN;
    this.onopen?.(new Event('open'));
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
    // noVNC wants an ArrayBuffer of exactly these bytes.
    const exact = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
    this.onmessage?.(new MessageEvent('message', { data: exact as ArrayBuffer }));
  }

  closed(code: number, reason: string): void {
    if (this.readyState === WebSocket.CLOSED) return;
    this.readyState = WebSocket.CLOSED;
    this.onclose?.(new CloseEvent('close', { code, reason, wasClean: code === 1000 }));
  }

  send(data: ArrayBuffer | Uint8Array): void {
    // noVNC reuses its send buffer: copy before the stream keeps the bytes for replay.
    const bytes = data instanceof Uint8Array ? data.slice() : new Uint8Array(data.slice(0));
    this.#stream?.write(bytes);
  }

  close(): void {
    this.#stream?.dispose();
    this.closed(1000, 'closed');
  }
}
