import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { BmcLinkBadge, MediaBadge, PowerBadge, SessionsBadge } from './Badges.js';

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

  it('shows a power action the BMC accepted as pending (cycling…), keeping the reported state in data-power', () => {
    const html = renderToStaticMarkup(<PowerBadge power="on" pending={{ action: 'cycle', target: 'on', since: '2026-12-05T01:00:00.000Z' }} />);
    expect(html).toContain('data-power="on"');
    expect(html).toContain('data-pending="cycle"');
    expect(html).toMatch(/cycling…<\/span>$/);
    expect(renderToStaticMarkup(<PowerBadge power="off" />)).toMatch(/>off<\/span>$/);
  });

  it('says why the power is unknown', () => {
    expect(renderToStaticMarkup(<PowerBadge power="unknown" reason={'NOT_FOUND: the BMC has no system "lab-node-1"'} />)).toContain('title="Power unknown: NOT_FOUND: the BMC has no system &quot;lab-node-1&quot;"');
  });

  it('shows the negotiated IPMI cipher suite, or that the BMC rejected the credentials', () => {
    const suite = renderToStaticMarkup(<BmcLinkBadge bmc={{ protocol: 'ipmi-v2.0', cipherSuite: 3 }} />);
    expect(suite).toContain('data-cipher-suite="3"');
    expect(suite).toMatch(/>IPMI 2\.0 · suite 3<\/span>$/);
    expect(suite).toContain('RMCP+ cipher suite 3');
    expect(renderToStaticMarkup(<BmcLinkBadge bmc={{ protocol: 'redfish' }} />)).toMatch(/>Redfish<\/span>$/);
    const rejected = renderToStaticMarkup(<BmcLinkBadge bmc={{ credentials: 'rejected', retryAt: '2026-12-05T09:00:00.000Z', protocol: 'ipmi-v2.0', cipherSuite: 17 }} />);
    expect(rejected).toContain('data-credentials="rejected"');
    expect(rejected).toMatch(/>credentials rejected<\/span>$/);
    expect(renderToStaticMarkup(<BmcLinkBadge bmc={null} />)).toBe('');
    expect(renderToStaticMarkup(<BmcLinkBadge bmc={{}} />)).toBe('');
  });
});
