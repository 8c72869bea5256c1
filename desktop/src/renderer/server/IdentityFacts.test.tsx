import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { IdentityFacts } from './IdentityFacts.js';

const rows = (html: string): Record<string, string> =>
  Object.fromEntries([...html.matchAll(/<th scope="row">([^<]+)<\/th><td[^>]*>(.*?)<\/td>/g)].map(([, label, value]) => [label!, value!.replace(/<[^>]+>/g, '')]));

describe('the server page\'s Identity block', () => {
  it('an IPMI BMC with FRU and system info: vendor, model, serial and BIOS as the agent read them, the IANA number on hover', () => {
    const html = renderToStaticMarkup(<IdentityFacts identity={{ source: 'ipmi', vendor: 'Lightsout', manufacturerId: 47009, model: 'Lab Server 1000 (LS-1000)', productId: 0x42, serialNumber: 'PSN-0042', bmcFirmware: '2.05', biosVersion: '2.4.1' }} error={null} />);
    expect(rows(html)).toEqual({ Vendor: 'Lightsout', Model: 'Lab Server 1000 (LS-1000)', 'Serial number': 'PSN-0042', 'BMC firmware': '2.05', 'BIOS version': '2.4.1', 'Read over': 'IPMI (Get Device ID, FRU, system info)' });
    expect(html).toContain('title="IANA enterprise 47009"');
  });

  it('an IPMI BMC without FRU: the IANA number and product ID, the rest not reported', () => {
    const html = renderToStaticMarkup(<IdentityFacts identity={{ source: 'ipmi', manufacturerId: 47009, productId: 0x42, bmcFirmware: '2.05' }} error={null} />);
    expect(rows(html)).toMatchObject({ Vendor: 'IANA enterprise 47009', Model: 'product ID 0x0042', 'Serial number': 'not reported', 'BIOS version': 'not reported' });
  });
});
