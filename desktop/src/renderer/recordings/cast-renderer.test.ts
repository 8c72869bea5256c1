import { describe, expect, it } from 'vitest';
import { parseAsciicast } from './asciicast.js';
import { CastRenderer, type CastTerminal } from './cast-renderer.js';

/**
 * A terminal that behaves as xterm.js does: write() only queues (parsing
 * happens later, on a timer), reset() acts at once on the screen but leaves
 * the queue alone, and RIS (ESC c) in the data resets in order with the text.
 */
class QueuedTerminal implements CastTerminal {
  screen = '';
  private queue: string[] = [];
  write(data: string): void {
    this.queue.push(data);
  }
  reset(): void {
    this.screen = '';
  }
  flush(): void {
    for (const data of this.queue.splice(0)) {
      const parts = data.split('\x1bc');
      if (parts.length > 1) this.screen = '';
      this.screen += parts.at(-1)!;
    }
  }
}

const cast = parseAsciicast(
  [
    JSON.stringify({ version: 2, width: 80, height: 24 }),
    JSON.stringify([0.5, 'o', 'boot\r\n']),
    JSON.stringify([1.0, 'o', 'login: ']),
    JSON.stringify([2.0, 'o', 'root\r\n']),
    JSON.stringify([3.0, 'o', '# ']),
  ].join('\n'),
);

describe('CastRenderer', () => {
  it('plays forward by appending only the new output', () => {
    const terminal = new QueuedTerminal();
    const renderer = new CastRenderer(cast, terminal);
    renderer.render(0, true);
    renderer.render(1, false);
    renderer.render(3, false);
    terminal.flush();
    expect(terminal.screen).toBe('boot\r\nlogin: root\r\n# ');
  });

  it('seeking while frames are still queued shows the target once, not on top of what was queued', () => {
    const terminal = new QueuedTerminal();
    const renderer = new CastRenderer(cast, terminal);
    renderer.render(0, true);
    renderer.render(2, false);
    // The user drags the slider before the terminal parsed the last frames.
    renderer.render(1, true);
    renderer.render(3, true);
    terminal.flush();
    expect(terminal.screen).toBe('boot\r\nlogin: root\r\n# ');
    renderer.render(0.5, true);
    terminal.flush();
    expect(terminal.screen).toBe('boot\r\n');
  });
});
