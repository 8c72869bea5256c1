/**
 * The WebSocket surface noVNC's RFB drives (it accepts any "raw channel" with
 * send/close/binaryType/readyState/on* — see noVNC core/websock.js): the
 * state and events both of our channels share, the live one over a console
 * stream (novnc-channel.ts) and the replay of a recording
 * (recordings/replay-channel.ts). Each says where bytes come from and what
 * `send` and `close` mean.
 */
export abstract class RawChannel {
  binaryType: BinaryType = 'arraybuffer';
  protocol = '';
  readyState: number = WebSocket.CONNECTING;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent<ArrayBuffer>) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;

  abstract send(data: ArrayBuffer | Uint8Array): void;
  abstract close(): void;

  /** CONNECTING → OPEN, once: noVNC may start the RFB handshake. False when it was not connecting. */
  protected markOpen(): boolean {
    if (this.readyState !== WebSocket.CONNECTING) return false;
    this.readyState = WebSocket.OPEN;
    this.onopen?.(new Event('open'));
    return true;
  }

  /** One message for noVNC, which wants an ArrayBuffer of exactly these bytes. */
  protected emit(data: ArrayBuffer): void {
    this.onmessage?.(new MessageEvent('message', { data }));
  }

  /** The far end closed (or we did): noVNC hears it once. */
  closed(code: number, reason: string): void {
    if (this.readyState === WebSocket.CLOSED) return;
    this.readyState = WebSocket.CLOSED;
    this.onclose?.(new CloseEvent('close', { code, reason, wasClean: code === 1000 }));
  }
}
