import { describe, expect, it } from 'vitest';
import { routeTerminalData, TypedInputTracker } from './terminal-input.js';

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe('routeTerminalData', () => {
  it('sends the terminal\'s own answers to its BMC only, never to the broadcast group', () => {
    expect(routeTerminalData({ typed: false, viewOnly: false, broadcasting: true })).toEqual({ own: true, broadcast: false, refused: false });
    expect(routeTerminalData({ typed: false, viewOnly: false, broadcasting: false })).toEqual({ own: true, broadcast: false, refused: false });
  });

  it('sends what the person typed to its BMC, and to the group while broadcasting', () => {
    expect(routeTerminalData({ typed: true, viewOnly: false, broadcasting: true })).toEqual({ own: true, broadcast: true, refused: false });
    expect(routeTerminalData({ typed: true, viewOnly: false, broadcasting: false })).toEqual({ own: true, broadcast: false, refused: false });
  });

  it('view only: sends nothing, and counts as refused only what the person typed', () => {
    expect(routeTerminalData({ typed: true, viewOnly: true, broadcasting: true })).toEqual({ own: false, broadcast: false, refused: true });
    expect(routeTerminalData({ typed: false, viewOnly: true, broadcasting: true })).toEqual({ own: false, broadcast: false, refused: false });
  });
});

/**
 * An element that dispatches as the DOM specifies: `eventPhase` is AT_TARGET while the listeners run and NONE
 * once the dispatch is over (Node's own EventTarget resets it after the first listener; Chromium does not).
 */
class SpecElement {
  readonly #listeners: { type: string; listener: (event: Event) => void }[] = [];
  addEventListener(type: string, listener: (event: Event) => void): void {
    this.#listeners.push({ type, listener });
  }
  removeEventListener(type: string, listener: (event: Event) => void): void {
    const index = this.#listeners.findIndex((entry) => entry.type === type && entry.listener === listener);
    if (index >= 0) this.#listeners.splice(index, 1);
  }
  dispatchEvent(event: { type: string }): void {
    const dispatched = { type: event.type, eventPhase: Event.AT_TARGET } as { type: string; eventPhase: number };
    for (const entry of this.#listeners.filter((candidate) => candidate.type === event.type)) entry.listener(dispatched as unknown as Event);
    dispatched.eventPhase = Event.NONE;
  }
}

describe('TypedInputTracker', () => {
  /** The terminal's element with the tracker on it, and a stand-in for xterm.js's listeners registered after it. */
  function terminal(type: string, onData: () => void) {
    const element = new SpecElement();
    const tracker = new TypedInputTracker(element as unknown as EventTarget);
    element.addEventListener(type, onData);
    return { element, tracker };
  }

  for (const type of ['keydown', 'keypress', 'input', 'paste']) {
    it(`counts onData inside a ${type} event as typed, and nothing after it`, () => {
      const seen: boolean[] = [];
      const { element, tracker } = terminal(type, () => seen.push(tracker.typed('x')));
      expect(tracker.typed('x')).toBe(false);
      element.dispatchEvent(new Event(type));
      expect(seen).toEqual([true]);
      // The answer to a query parsed later (another task) is not typed.
      expect(tracker.typed('x')).toBe(false);
    });
  }

  it('does not count focus or mouse events (focus and mouse reports) as typed', () => {
    for (const type of ['focus', 'mousedown', 'wheel']) {
      const seen: boolean[] = [];
      const { element, tracker } = terminal(type, () => seen.push(tracker.typed('x')));
      element.dispatchEvent(new Event(type));
      expect(seen).toEqual([false]);
    }
  });

  it('counts IME text, which xterm.js reads a task after compositionend, as typed; an answer parsed meanwhile is not', async () => {
    const seen: string[] = [];
    const element = new SpecElement();
    const tracker = new TypedInputTracker(element as unknown as EventTarget);
    element.addEventListener('compositionend', () => setTimeout(() => seen.push(`composed:${tracker.typed('日本')}`), 0));
    setTimeout(() => seen.push(`answer:${tracker.typed('\x1b[?1;2c')}`), 0);
    element.dispatchEvent(new Event('compositionend'));
    await tick();
    await tick();
    await tick();
    expect(seen).toEqual(['answer:false', 'composed:true']);
    expect(tracker.typed('日本')).toBe(false);
  });

  it('inside the event itself, any key is typed, Escape too', () => {
    const seen: boolean[] = [];
    const { element, tracker } = terminal('keydown', () => seen.push(tracker.typed('\x1b')));
    element.dispatchEvent(new Event('keydown'));
    expect(seen).toEqual([true]);
  });

  it('counts the console\'s own paste as typed, only while it runs', () => {
    const tracker = new TypedInputTracker(new SpecElement() as unknown as EventTarget);
    let during = false;
    tracker.asTyped(() => (during = tracker.typed('pasted')));
    expect(during).toBe(true);
    expect(tracker.typed('x')).toBe(false);
  });

  it('stops listening once disposed', () => {
    const seen: boolean[] = [];
    const { element, tracker } = terminal('keydown', () => seen.push(tracker.typed('x')));
    tracker.dispose();
    element.dispatchEvent(new Event('keydown'));
    expect(seen).toEqual([false]);
  });
});
