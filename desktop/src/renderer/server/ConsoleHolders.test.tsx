import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ConsoleHolders } from './ConsoleHolders.js';

const text = (html: string) => html.replace(/<[^>]+>/g, '');

describe("the server page's consoles row", () => {
  it('names who is on which console in which mode, since when on hover', () => {
    const html = renderToStaticMarkup(
      <ConsoleHolders
        consoles={[
          { user: 'alice', kind: 'sol', mode: 'control', since: '2026-12-05T10:00:00.000Z' },
          { user: 'bob', kind: 'vnc', mode: 'view', since: '2026-12-05T10:01:00.000Z' },
          { user: 'carol', kind: 'web', mode: 'control', since: '2026-12-05T10:02:00.000Z' },
        ]}
        sessions={3}
      />,
    );
    expect(text(html)).toBe('alice (SOL, control), bob (VNC, view), carol (web UI, control)');
    expect(html).toMatch(/title="since [^"]+"/);
  });

  it('says nobody when nobody is on them, and the count from a relay that does not list them', () => {
    expect(text(renderToStaticMarkup(<ConsoleHolders consoles={[]} sessions={0} />))).toBe('nobody');
    expect(text(renderToStaticMarkup(<ConsoleHolders consoles={undefined} sessions={2} />))).toBe('2 open');
    expect(text(renderToStaticMarkup(<ConsoleHolders consoles={undefined} sessions={0} />))).toBe('none open');
  });
});
