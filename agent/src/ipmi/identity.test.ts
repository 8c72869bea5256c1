import { decodeDeviceId } from '@lightsout/bmc-wire/ipmi';
import { describe, expect, it } from 'vitest';
import { identityOfDeviceId } from './identity.js';

// Get Device ID response data (§20.1): | dev id | dev rev | fw major | fw minor BCD | IPMI ver | support | mfr (3 LE) | product (2 LE) |
const response = (manufacturer: [number, number, number], firmware: [number, number]) => Uint8Array.of(0x20, 0x81, ...firmware, 0x02, 0xbf, ...manufacturer, 0x00, 0x01);

describe('identity from Get Device ID', () => {
  it('names a well-known IANA number (Dell 674 = 0x0002a2) and decodes firmware as major binary, minor BCD', () => {
    // firmware 0x87 with bit 7 (update in progress) masked = 7; minor 0x10 BCD = "10"
    expect(identityOfDeviceId(decodeDeviceId(response([0xa2, 0x02, 0x00], [0x87, 0x10])))).toEqual({ source: 'ipmi', vendor: 'Dell', manufacturerId: 674, productId: 256, bmcFirmware: '7.10' });
  });

  it('names Supermicro (10876 = 0x002a7c) and Lenovo (19046 = 0x004a66)', () => {
    expect(identityOfDeviceId(decodeDeviceId(response([0x7c, 0x2a, 0x00], [1, 0x73]))).vendor).toBe('Supermicro');
    expect(identityOfDeviceId(decodeDeviceId(response([0x66, 0x4a, 0x00], [1, 0x73]))).vendor).toBe('Lenovo');
  });

  it('reports an unknown number as a number, without a vendor name', () => {
    const identity = identityOfDeviceId(decodeDeviceId(response([0xa1, 0xb7, 0x00], [2, 0x05])));
    expect(identity).toEqual({ source: 'ipmi', manufacturerId: 47009, productId: 256, bmcFirmware: '2.05' });
  });
});
