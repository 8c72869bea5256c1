import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { MediaBadge, SessionsBadge } from './Badges.js';

describe('tree badges', () => {
  it('shows the live-session count, and nothing without sessions', () => {
    expect(renderToStaticMarkup(<SessionsBadge sessions={3} />)).toContain('data-sessions="3"');
    expect(renderToStaticMarkup(<SessionsBadge sessions={3} />)).toContain('3 live console connections');
    expect(renderToStaticMarkup(<SessionsBadge sessions={1} />)).toContain('1 live console connection"');
    expect(renderToStaticMarkup(<SessionsBadge sessions={0} />)).toBe('');
    expect(renderToStaticMarkup(<SessionsBadge sessions={undefined} />)).toBe('');
  });

  it('shows that media is mounted, the image and who mounted it in the tooltip, and nothing when none is mounted', () => {
    const html = renderToStaticMarkup(<MediaBadge media={{ filename: 'debian-12.8.0-amd64-netinst.iso', since: null, by: 'alice' }} />);
    expect(html).toContain('data-filename="debian-12.8.0-amd64-netinst.iso"');
    expect(html).toContain('title="Mounted: debian-12.8.0-amd64-netinst.iso by alice"');
    expect(html).toMatch(/>⏏<\/span>/);
    expect(renderToStaticMarkup(<MediaBadge media={null} />)).toBe('');
    expect(renderToStaticMarkup(<MediaBadge media={undefined} />)).toBe('');
  });
});
