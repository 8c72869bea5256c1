import { type SessionCreated, StreamCloseCode, encodeStreamMessage } from '@lightsout/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RelayClient } from '../api/relay-client.js';
import { ConsoleStream, type ConsoleState } from './console-stream.js';

/**
 * A console the agent could not open (SOL held by another session): the
 * pane's closed state carries the agent's code and words, not the bare
 * close reason, and a new session can ask to take SOL over.
 */
afterEach(() => {
  vi.unstubAllGlobals();
});

/** The browser's WebSocket as the gateway answers a refused open: an `error` message, then close 4502. */
class RefusingGateway {
  binaryType = 'blob';
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  constructor() {
    queueMicrotask(() => {
      this.onopen?.();
      this.onmessage?.({ data: encodeStreamMessage({ type: 'error', code: 'BMC_BUSY', message: 'SOL is already active on another session (BMC session 0x2)' }) });
      this.onclose?.({ code: StreamCloseCode.BMC_UNREACHABLE, reason: 'BMC_BUSY' });
    });
  }
  send(): void {}
  close(): void {}
}

describe('ConsoleStream refused by the agent', () => {
  it('ends with the agent\'s words as the detail, and restart({ takeover }) asks the relay for a takeover', async () => {
    vi.stubGlobal('WebSocket', RefusingGateway);
    const gateway = 'ws://gateway.test';
    const asked: Array<{ takeover?: boolean }> = [];
    const client = {
      baseUrl: 'http://127.0.0.1',
      createSession: async (serverId: string, kind: string, mode: string, options: { takeover?: boolean } = {}): Promise<SessionCreated> => {
        asked.push(options);
        return { sessionId: 'A'.repeat(22), streamUrl: `${gateway}/v1/streams/${'A'.repeat(22)}`, token: 't', expiresAt: new Date(Date.now() + 60_000).toISOString(), serverId, kind: kind as 'sol', mode: mode as 'control' };
      },
    } as unknown as RelayClient;
    const states: Array<{ state: ConsoleState; detail?: string | undefined }> = [];
    const errors: string[] = [];
    let closed!: () => void;
    let ended = new Promise<void>((resolve) => (closed = resolve));
    const stream = new ConsoleStream({
      client,
      serverId: 'web-01',
      kind: 'sol',
      mode: 'control',
      onData: () => undefined,
      onState: (state, detail) => {
        states.push({ state, detail });
        if (state === 'closed') closed();
      },
      onError: (code) => errors.push(code),
    });
    await ended;
    expect(errors).toEqual(['BMC_BUSY']);
    expect(states.at(-1)).toEqual({ state: 'closed', detail: 'BMC_BUSY: SOL is already active on another session (BMC session 0x2)' });
    ended = new Promise<void>((resolve) => (closed = resolve));
    await stream.restart({ takeover: true });
    await ended;
    expect(asked).toEqual([{}, { takeover: true }]);
    stream.dispose();
  });
});
