import { mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { heldBytes } from '../testing/held-bytes.js';
import { ScrollbackFile, prepareScrollbackDirectory } from './scrollback-file.js';
import { Scrollback } from './scrollback.js';

/** A deterministic byte stream (xorshift), so a test that fails can be run again the same way. */
function generator(seed: number) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  return {
    next,
    bytes(length: number): Uint8Array {
      const out = new Uint8Array(length);
      for (let index = 0; index < length; index++) out[index] = next() & 0xff;
      return out;
    },
  };
}

/** The last `capacity` bytes of everything pushed: what a scrollback must give. */
class Reference {
  private readonly chunks: Uint8Array[] = [];
  push(bytes: Uint8Array): void {
    this.chunks.push(bytes.slice());
  }
  last(capacity: number): Buffer {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - capacity));
  }
}

let directory: string;
const stores: ScrollbackFile[] = [];
beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'scrollback-file-'));
});
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  rmSync(directory, { recursive: true, force: true });
});

function create(capacity: number, onError?: (error: Error) => void): ScrollbackFile {
  const store = ScrollbackFile.create(directory, capacity, onError === undefined ? {} : { onError });
  stores.push(store);
  return store;
}

describe('ScrollbackFile', () => {
  it('gives the last capacity bytes, byte-exact, through many wraps of the file, whether writes are in flight or done', async () => {
    const capacity = 4096;
    const store = create(capacity);
    const reference = new Reference();
    const random = generator(20261206);
    let snapshots = 0;
    for (let round = 0; round < 400; round++) {
      // Packets of 1 byte (typing) to a little over the capacity (a burst larger than the window).
      const length = round % 50 === 49 ? capacity + 100 : 1 + (random.next() % 600);
      const bytes = random.bytes(length);
      store.push(bytes);
      reference.push(bytes);
      // Taken at once, while the write just started is in flight, and after it ended.
      expect(Buffer.from(store.snapshot()).equals(reference.last(capacity))).toBe(true);
      if (round % 7 === 0) {
        await store.flushed();
        expect(store.bytesInMemory).toBe(0);
        expect(Buffer.from(store.snapshot()).equals(reference.last(capacity))).toBe(true);
      }
      snapshots++;
    }
    expect(snapshots).toBe(400);
    expect(store.size).toBe(capacity);
    expect(store.usingFile).toBe(true);
  });

  it('writes output that arrives a packet per turn once per delay, not once per packet', async () => {
    // Only the store's delay is faked: the file's writes are real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const store = create(256 * 1024);
      const reference = new Reference();
      // A boot log: 200 SOL packets of 45 bytes, each in its own turn of the event loop.
      for (let index = 0; index < 200; index++) {
        const packet = Buffer.alloc(45, index & 0xff);
        store.push(packet);
        reference.push(packet);
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(store.writesStarted).toBe(0);
      expect(Buffer.from(store.snapshot()).equals(reference.last(256 * 1024))).toBe(true);
      vi.advanceTimersByTime(100);
      expect(store.writesStarted).toBe(1);
      await store.flushed();
      expect(store.writesStarted).toBe(1);
      expect(store.bytesInMemory).toBe(0);
      expect(Buffer.from(store.snapshot()).equals(reference.last(256 * 1024))).toBe(true);
      // 16 KiB waiting starts a write at once, without the delay.
      store.push(Buffer.alloc(16 * 1024, 1));
      expect(store.writesStarted).toBe(2);
      await store.flushed();
    } finally {
      vi.useRealTimers();
    }
  });

  it('is empty before any output and holds less than the capacity until it fills', async () => {
    const store = create(1024);
    expect(store.snapshot()).toEqual(new Uint8Array(0));
    expect(store.size).toBe(0);
    store.push(new Uint8Array([1, 2, 3]));
    await store.flushed();
    expect([...store.snapshot()]).toEqual([1, 2, 3]);
    expect(store.size).toBe(3);
  });

  it('leaves nothing in its directory by name, and nothing open once closed', async () => {
    const openBefore = readdirSync('/proc/self/fd').length;
    const store = ScrollbackFile.create(directory, 1024);
    store.push(new Uint8Array(100).fill(7));
    expect(readdirSync(directory)).toEqual([]);
    expect(readdirSync('/proc/self/fd').length).toBe(openBefore + 1);
    // Closed with a write in flight: the descriptor goes when the write ends.
    store.close();
    await store.flushed();
    expect(readdirSync('/proc/self/fd').length).toBe(openBefore);
    expect(store.snapshot()).toEqual(new Uint8Array(0));
  });

  it("holds what is not yet written in memory, not the console's output: 32 full 256 KiB scrollbacks cost under 16 KiB each", async () => {
    const capacity = 256 * 1024;
    const before = heldBytes();
    // 32 of them, so the test process's own allocations meanwhile are a small share of each one's figure.
    const files = Array.from({ length: 32 }, () => create(capacity));
    // Twice the capacity in 45-byte packets (a line of SOL output each), as a console prints.
    for (let written = 0; written < 2 * capacity; written += 45) {
      for (const store of files) store.push(Buffer.alloc(45, written & 0xff));
      if (written % (16 * 1024) < 45) await Promise.all(files.map((store) => store.flushed()));
    }
    await Promise.all(files.map((store) => store.flushed()));
    const perConsole = (heldBytes() - before) / files.length;
    expect(perConsole).toBeLessThan(16 * 1024);
    for (const store of files) {
      expect(store.size).toBe(capacity);
      expect(store.bytesInMemory).toBe(0);
    }
    // The same output in memory costs the capacity: what the file saves.
    const rings = Array.from({ length: 8 }, () => new Scrollback(capacity));
    const ringsBefore = heldBytes();
    for (let written = 0; written < 2 * capacity; written += 45) for (const ring of rings) ring.push(Buffer.alloc(45, written & 0xff));
    expect((heldBytes() - ringsBefore) / rings.length).toBeGreaterThan(0.9 * capacity);
  });

  it('keeps the window in memory, byte-exact, when the disk refuses writes (ENOSPC), and says so once', async () => {
    const errors: Error[] = [];
    // /dev/full: every write fails with ENOSPC, as a full disk does.
    const store = ScrollbackFile.overDescriptor(openSync('/dev/full', 'r+'), 2048, { onError: (error) => errors.push(error) });
    stores.push(store);
    const reference = new Reference();
    const random = generator(7);
    for (let round = 0; round < 50; round++) {
      const bytes = random.bytes(1 + (random.next() % 300));
      store.push(bytes);
      reference.push(bytes);
      await store.flushed();
      expect(Buffer.from(store.snapshot()).equals(reference.last(2048))).toBe(true);
    }
    expect(errors).toHaveLength(1);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(store.usingFile).toBe(false);
    expect(store.size).toBe(2048);
  });

  it('empties the scrollback directory at start and makes it private', () => {
    const state = mkdtempSync(join(tmpdir(), 'agent-state-'));
    try {
      const first = prepareScrollbackDirectory(state);
      // A file left by an agent that died between making and unlinking it.
      openSync(join(first, 'scrollback-left'), 'w');
      const again = prepareScrollbackDirectory(state);
      expect(again).toBe(first);
      expect(readdirSync(again)).toEqual([]);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
});
