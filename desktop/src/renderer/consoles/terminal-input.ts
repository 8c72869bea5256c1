/**
 * xterm.js fires `onData` for two kinds of bytes: what the person types or
 * pastes, and the answers the terminal writes by itself while it parses the
 * BMC's output (a cursor position report for ESC[6n, device attributes for
 * ESC[c, focus reports after ESC[?1004h, mouse reports after ESC[?1000h).
 * The answers belong to the BMC that asked, as from any terminal. Only what
 * the person typed may go to the other consoles of a broadcast group, or be
 * counted as "not sent" in a view-only pane: a BMC that writes ESC[c would
 * otherwise type ESC [ ? 1 ; 2 c (ESC c: leave a BIOS menu, GRUB's command
 * line) into every other server with broadcast on.
 */

export interface TerminalDataRoute {
  /** Write to this console's own BMC. */
  own: boolean;
  /** Send to the other consoles of the broadcast group. */
  broadcast: boolean;
  /** Count as input a view-only pane did not send (the person is told). */
  refused: boolean;
}

/** Where one `onData` chunk goes: `typed` is the person's input, else the terminal's own answer. */
export function routeTerminalData({ typed, viewOnly, broadcasting }: { typed: boolean; viewOnly: boolean; broadcasting: boolean }): TerminalDataRoute {
  // View only: the agent would drop input, the terminal's answers included; only keys the person typed are worth a word.
  if (viewOnly) return { own: false, broadcast: false, refused: typed };
  return { own: true, broadcast: typed && broadcasting, refused: false };
}

type ListenerTarget = Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;

/** DOM events inside which xterm.js turns keys, text input or a paste into `onData`, synchronously. */
const INPUT_EVENTS = ['keydown', 'keypress', 'input', 'paste'] as const;
/** IME input: xterm.js reads the composed text from its textarea one task later (a setTimeout of 0). */
const COMPOSITION_EVENTS = ['compositionstart', 'compositionupdate', 'compositionend'] as const;
/** The key code of a keydown the IME processes (the text lands in the textarea afterwards). */
const IME_KEY_CODE = 229;
/** What every answer of a terminal starts its sequence with: ESC, or a C1 control (CSI, DCS, OSC as one byte). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_INTRODUCER = /[\x1b\x80-\x9f]/;

/**
 * Tells the person's input from the terminal's answers. xterm.js has no API
 * for it, but its answers are only ever made while it parses written output,
 * in a task of its own, never inside a keyboard, input or paste event on
 * the terminal. So: remember the last such event (capture phase on the
 * terminal's element, before xterm.js's own listeners); `onData` during its
 * dispatch (`eventPhase` is not NONE until the dispatch ends) is typed. IME
 * text comes a task later: a composition event keeps a window open until the
 * task after xterm.js's deferred read, and in that window text counts as
 * typed only without an ESC or C1 control (every terminal answer has one;
 * composed text never does), so output parsed in the same window stays home.
 */
export class TypedInputTracker {
  readonly #element: ListenerTarget;
  readonly #setTimer: (callback: () => void) => void;
  #event: Event | null = null;
  #deferred = 0;
  #programmatic = 0;
  #disposed = false;

  constructor(element: ListenerTarget, setTimer: (callback: () => void) => void = (callback) => void setTimeout(callback, 0)) {
    this.#element = element;
    this.#setTimer = setTimer;
    for (const type of INPUT_EVENTS) element.addEventListener(type, this.#onInput, { capture: true });
    for (const type of COMPOSITION_EVENTS) element.addEventListener(type, this.#onComposition, { capture: true });
  }

  /** Whether `data`, of the `onData` firing now, is what the person typed or pasted. */
  typed(data: string): boolean {
    if (this.#programmatic > 0 || (this.#event !== null && this.#event.eventPhase !== Event.NONE)) return true;
    return this.#deferred > 0 && !CONTROL_INTRODUCER.test(data);
  }

  /** Runs `action` (the console's own paste of the clipboard) as the person's input. */
  asTyped(action: () => void): void {
    this.#programmatic++;
    try {
      action();
    } finally {
      this.#programmatic--;
    }
  }

  dispose(): void {
    this.#disposed = true;
    for (const type of INPUT_EVENTS) this.#element.removeEventListener(type, this.#onInput, { capture: true });
    for (const type of COMPOSITION_EVENTS) this.#element.removeEventListener(type, this.#onComposition, { capture: true });
  }

  readonly #onInput = (event: Event): void => {
    this.#event = event;
    if (event.type === 'keydown' && ((event as KeyboardEvent).isComposing || (event as KeyboardEvent).keyCode === IME_KEY_CODE)) this.#openDeferred();
  };

  readonly #onComposition = (event: Event): void => {
    this.#event = event;
    this.#openDeferred();
  };

  /**
   * xterm.js queues its read in its own listener, after this one: a timer set
   * here runs before it, the one that timer sets runs after it.
   */
  #openDeferred(): void {
    if (this.#disposed) return;
    this.#deferred++;
    this.#setTimer(() => this.#setTimer(() => this.#deferred--));
  }
}
