import type { SetTimer, StreamSocketFactory } from '@lightsout/shared';

/** The shared StreamClient's transport, over the browser's WebSocket. */
export const browserStreamSocket: StreamSocketFactory = (url, protocols, events) => {
  const socket = new WebSocket(url, protocols);
  socket.binaryType = 'arraybuffer';
  socket.onopen = () => events.open();
  socket.onmessage = (event: MessageEvent<string | ArrayBuffer>) => events.message(typeof event.data === 'string' ? event.data : new Uint8Array(event.data));
  socket.onclose = (event) => events.close(event.code, event.reason);
  return {
    // Our chunks are never views of a SharedArrayBuffer.
    send: (data) => socket.send(data as string | Uint8Array<ArrayBuffer>),
    close: (code, reason) => {
      // Browsers only let a page close with 1000 or 3000–4999.
      const allowed = code === undefined || code === 1000 || (code >= 3000 && code <= 4999);
      socket.close(allowed ? code : 1000, reason);
    },
  };
};

export const browserTimer: SetTimer = (callback, ms) => {
  const handle = setTimeout(callback, ms);
  return () => clearTimeout(handle);
};
