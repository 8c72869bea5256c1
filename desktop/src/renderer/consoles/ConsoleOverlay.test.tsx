import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ConsoleOverlay } from './ConsoleOverlay.js';

describe('the console overlay', () => {
  it('shows why a session ended in the far end\'s words, and offers "Take over" only when it is given one', () => {
    const busy = renderToStaticMarkup(<ConsoleOverlay state="closed" detail="BMC_BUSY: SOL is already active on another session (BMC session 0x2)" onRestart={() => undefined} onTakeOver={() => undefined} />);
    expect(busy).toContain('SOL is already active on another session (BMC session 0x2)');
    expect(busy).toContain('data-testid="sol-take-over"');
    const ended = renderToStaticMarkup(<ConsoleOverlay state="closed" detail="closed by the relay" onRestart={() => undefined} />);
    expect(ended).not.toContain('sol-take-over');
    expect(ended).toContain('Start a new session');
  });
});
