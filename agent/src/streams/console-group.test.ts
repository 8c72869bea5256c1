import { ByteRing, type StatusMessage } from '@lightsout/shared';
import { describe, expect, it, vi } from 'vitest';
import { ConsoleGroup, type GroupMember } from './console-group.js';
import type { ConsolePort } from './ports/types.js';

/** A member that records what the group hands it (the group's contract, not a stand-in for a peer). */
function member(user: string, requestedMode: 'control' | 'view' = 'view', subject = `sub-${user}`) {
  const received: Uint8Array[] = [];
  const statuses: StatusMessage[] = [];
  const value: GroupMember & { received: Uint8Array[]; statuses: StatusMessage[]; text(): string } = {
    user,
    subject,
    requestedMode,
    attached: true,
    canTake: true,
    overflowed: false,
    received,
    statuses,
    deliver: (bytes) => received.push(bytes),
    sendStatus: (status) => statuses.push(status),
    end: () => undefined,
    holdInput: () => undefined,
    text: () => Buffer.concat(received).toString(),
  };
  return value;
}

function port(replay?: string): ConsolePort {
  return {
    ...(replay === undefined ? {} : { replay: Buffer.from(replay) }),
    write: () => true,
    sendBreak: () => undefined,
    pause: () => undefined,
    resume: () => undefined,
    close: () => undefined,
  };
}

describe('ConsoleGroup scrollback', () => {
  it("gives the first member the port's replay (the SOL hub's ring buffer) before live output", () => {
    const group = new ConsoleGroup('s/sol', port('boot banner\r\n'), () => undefined, { scrollbackBytes: 1024 });
    const first = member('alice', 'control');
    group.join(first);
    group.output(Buffer.from('login: '));
    expect(first.text()).toBe('boot banner\r\nlogin: ');
  });

  it('gives a late member the earlier output exactly once, then live output', () => {
    const group = new ConsoleGroup('s/serial', port(), () => undefined, { scrollbackBytes: 1024 });
    const alice = member('alice', 'control');
    group.join(alice);
    group.output(Buffer.from('earlier-1 '));
    group.output(Buffer.from('earlier-2 '));
    const bob = member('bob');
    group.join(bob);
    expect(bob.text()).toBe('earlier-1 earlier-2 ');
    group.output(Buffer.from('later'));
    expect(bob.text()).toBe('earlier-1 earlier-2 later');
    expect(alice.text()).toBe(bob.text());
  });

  it('bounds what a late member gets to the scrollback size', () => {
    const group = new ConsoleGroup('s/serial', port('0123456789'), () => undefined, { scrollbackBytes: 8 });
    group.join(member('alice', 'control'));
    group.output(Buffer.from('abcd'));
    const late = member('carol');
    group.join(late);
    expect(late.text()).toBe('6789abcd');
  });

  it("asks a port that keeps its own scrollback (the SOL hub's ring) instead of holding a second copy", () => {
    // As the SOL hub does: every byte goes into its ring before any viewer hears of it.
    const ring = new ByteRing({ maxBytes: 8 });
    ring.push(Buffer.from('0123'));
    let asked = 0;
    const solPort: ConsolePort = { ...port('0123'), scrollback: () => (asked++, ring.copyFrom()) };
    const group = new ConsoleGroup('s/sol', solPort, () => undefined, { scrollbackBytes: 8 });
    const from = (text: string) => {
      ring.push(Buffer.from(text));
      group.output(Buffer.from(text));
    };
    const alice = member('alice', 'control');
    group.join(alice);
    from('4567');
    from('89');
    const late = member('bob');
    group.join(late);
    expect(late.text()).toBe('23456789');
    expect(asked).toBe(1);
    from('ab');
    expect(late.text()).toBe('23456789ab');
    expect(alice.text()).toBe('0123456789ab');
  });

  it('keeps no scrollback when asked for none (VNC)', () => {
    const group = new ConsoleGroup('s/vnc/x', port(), () => undefined);
    group.join(member('alice', 'control'));
    group.output(Buffer.from('RFB 003.008\n'));
    const late = member('bob');
    group.join(late);
    expect(late.received).toEqual([]);
  });
});

describe('ConsoleGroup before its first member', () => {
  function countingPort() {
    const calls: string[] = [];
    const value: ConsolePort & { calls: string[] } = { ...port(), calls, pause: () => void calls.push('pause'), resume: () => void calls.push('resume') };
    return value;
  }

  it('holds the port paused until the session it was opened for joins', () => {
    const bmc = countingPort();
    const group = new ConsoleGroup('s/serial', bmc, () => undefined, { scrollbackBytes: 1024 });
    expect(bmc.calls).toEqual(['pause']);
    group.join(member('alice', 'control'));
    expect(bmc.calls).toEqual(['pause', 'resume']);
  });

  it('gives the first member all output from before it joined, even past the scrollback size and with none (VNC)', () => {
    for (const scrollbackBytes of [0, 4]) {
      const group = new ConsoleGroup('s/vnc/x', port('replay:'), () => undefined, { scrollbackBytes });
      group.output(Buffer.from('RFB 003.008\n'));
      const first = member('alice', 'control');
      group.join(first);
      group.output(Buffer.from('live'));
      expect(first.text()).toBe('replay:RFB 003.008\nlive');
    }
  });

  it('ends a member that joins a console whose BMC side already closed', () => {
    const group = new ConsoleGroup('s/serial', port(), () => undefined, { scrollbackBytes: 1024 });
    group.portClosed('the BMC closed the serial console');
    const ended: string[] = [];
    group.join({ ...member('alice', 'control'), end: (_code, reason) => void ended.push(reason) });
    expect(ended).toEqual(['the BMC closed the console']);
    expect(group.size).toBe(0);
  });
});


describe('ConsoleGroup control', () => {
  it('gives control back to the same person coming back (a reload, a new window), from their own older session', () => {
    const group = new ConsoleGroup('s/sol', port(), () => undefined, { scrollbackBytes: 1024 });
    const before = member('alice', 'control');
    group.join(before);
    const reloaded = member('alice', 'control');
    group.join(reloaded);
    expect(group.modeOf(reloaded)).toBe('control');
    expect(group.modeOf(before)).toBe('view');
    expect(before.statuses.at(-1)).toMatchObject({ mode: 'view', controller: 'alice' });
    const typed: string[] = [];
    const recording = { ...port(), write: (bytes: Uint8Array) => (typed.push(Buffer.from(bytes).toString()), true) };
    const other = new ConsoleGroup('s2/sol', recording, () => undefined, { scrollbackBytes: 1024 });
    const old = member('alice', 'control');
    const again = member('alice', 'control');
    other.join(old);
    other.join(again);
    other.input(old, Buffer.from('stale tab'));
    other.input(again, Buffer.from('reloaded tab'));
    expect(typed).toEqual(['reloaded tab']);
  });

  it('does not hand control to another person, nor to a same-named user of another identity', () => {
    const group = new ConsoleGroup('s/sol', port(), () => undefined, { scrollbackBytes: 1024 });
    const alice = member('alice', 'control');
    group.join(alice);
    const bob = member('bob', 'control');
    group.join(bob);
    const namesake = member('alice', 'control', 'another-subject');
    group.join(namesake);
    expect([group.modeOf(alice), group.modeOf(bob), group.modeOf(namesake)]).toEqual(['control', 'view', 'view']);
  });

  it('a view-only return of the same person leaves control where it is', () => {
    const group = new ConsoleGroup('s/sol', port(), () => undefined, { scrollbackBytes: 1024 });
    const alice = member('alice', 'control');
    group.join(alice);
    const watching = member('alice', 'view');
    group.join(watching);
    expect([group.modeOf(alice), group.modeOf(watching)]).toEqual(['control', 'view']);
  });
});

describe('ConsoleGroup status fan-out', () => {
  it('past statusFanout members, viewers get one picture per window; the controller and mode changes hear at once', () => {
    vi.useFakeTimers();
    try {
      const group = new ConsoleGroup('s/serial', port(), () => undefined, { statusFanout: 3, statusCoalesceMs: 250 });
      const alice = member('alice', 'control');
      const bob = member('bob');
      group.join(alice);
      group.join(bob);
      group.join(member('carol'));
      expect(bob.statuses.map((status) => status.user)).toEqual(['bob', 'carol']);

      const late = Array.from({ length: 10 }, (_, index) => member(`viewer-${index}`));
      for (const viewer of late) group.join(viewer);
      // The controller saw every join as it happened; each newcomer got its own picture; bob got nothing yet.
      expect(alice.statuses.filter((status) => status.event === 'joined').map((status) => status.user)).toEqual(['alice', 'bob', 'carol', ...late.map((viewer) => viewer.user)]);
      expect(late.every((viewer) => viewer.statuses.length >= 1 && viewer.statuses[0]!.user === viewer.user)).toBe(true);
      expect(bob.statuses).toHaveLength(2);

      vi.advanceTimersByTime(250);
      // One picture for the eleven changes bob missed: no single event to name, everyone listed.
      expect(bob.statuses).toHaveLength(3);
      expect(bob.statuses[2]).toMatchObject({ mode: 'view', controller: 'alice' });
      expect(bob.statuses[2]!.event).toBeUndefined();
      expect(bob.statuses[2]!.members).toHaveLength(13);
      // A newcomer already heard of its own join: only the joins after it, once.
      expect(late[9]!.statuses).toHaveLength(1);

      // One change missed: the picture names it.
      const erin = member('erin', 'control');
      group.join(erin);
      vi.advanceTimersByTime(250);
      expect(bob.statuses.at(-1)).toMatchObject({ event: 'joined', user: 'erin' });

      // A take-over changes two members' modes: both hear at once, the rest in the next window.
      const bobBefore = bob.statuses.length;
      group.takeOver(erin);
      expect(erin.statuses.at(-1)).toMatchObject({ mode: 'control', event: 'took-over', user: 'erin' });
      expect(alice.statuses.at(-1)).toMatchObject({ mode: 'view', controller: 'erin', event: 'took-over' });
      expect(bob.statuses).toHaveLength(bobBefore);
      vi.advanceTimersByTime(250);
      expect(bob.statuses.at(-1)).toMatchObject({ controller: 'erin', event: 'took-over', user: 'erin' });

      // The BMC closing is told to everyone at once.
      group.portClosed('gone');
      expect(bob.statuses.at(-1)).toMatchObject({ event: 'bmc-closed' });
    } finally {
      vi.useRealTimers();
    }
  });

  it("hands a window's picture out a slice per event-loop turn, one shared status object per mode", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
    try {
      const group = new ConsoleGroup('s/serial', port(), () => undefined, { statusFanout: 3, statusCoalesceMs: 250, statusSlice: 4 });
      const alice = member('alice', 'control');
      group.join(alice);
      // viewer-06 may take control (but alice holds it).
      const viewers = Array.from({ length: 11 }, (_, index) => member(`viewer-${String(index).padStart(2, '0')}`, index === 6 ? 'control' : 'view'));
      for (const viewer of viewers) group.join(viewer);
      const heardBefore = viewers.map((viewer) => viewer.statuses.length);
      const newStatuses = () => viewers.map((viewer, index) => viewer.statuses.slice(heardBefore[index]));

      vi.advanceTimersByTime(250);
      // alice (the controller) heard every join already, and each viewer its own: the first slice of four reaches viewers 00–02.
      expect(newStatuses().map((list) => list.length)).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
      // Before the next slice: viewer-05 leaves, and viewer-06 takes control (told at once, as its mode changed).
      group.leave(viewers[5]!);
      group.takeOver(viewers[6]!);
      expect(newStatuses()[6]!.map((status) => status.event)).toEqual(['took-over']);
      await nextTurn();
      // 03 and 04 get the window's picture; 05 left; 06 already heard a newer picture than this window's.
      expect(newStatuses().map((list) => list.length)).toEqual([1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0]);
      await nextTurn();
      // The last slice: 07–09 (viewer-10 joined last and missed nothing).
      const received = newStatuses();
      expect(received.map((list) => list.length)).toEqual([1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0]);
      // Everyone told the same thing got the same object (so it is encoded once, not once per member):
      // 00–08 missed several joins (one picture, no event); 09 missed only viewer-10's, which its picture names.
      const several = [0, 1, 2, 3, 4, 7, 8].map((index) => received[index]![0]!);
      const first = several[0]!;
      expect(several.every((status) => status === first)).toBe(true);
      expect(first.event).toBeUndefined();
      expect(received[9]![0]).toMatchObject({ event: 'joined', user: 'viewer-10', controller: 'alice' });
      expect(first).toMatchObject({ mode: 'view', controller: 'alice' });
      expect(first.members).toHaveLength(12);
    } finally {
      vi.useRealTimers();
    }
  });

  it('small groups hear every change at once', () => {
    const group = new ConsoleGroup('s/serial', port(), () => undefined);
    const watchers = Array.from({ length: 16 }, (_, index) => member(`user-${index}`));
    for (const watcher of watchers) group.join(watcher);
    expect(watchers[0]!.statuses.map((status) => status.user)).toEqual(watchers.map((watcher) => watcher.user));
  });
});
