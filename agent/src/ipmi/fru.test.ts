import { LightsoutError } from '@lightsout/shared';
import { decodeDeviceId, decodeGetSystemInfoRequest, decodeReadFruDataRequest, encodeFruInventoryAreaInfo, encodeReadFruData, encodeSystemInfoStringSet, fromHex, type CommandRequest } from '@lightsout/bmc-wire/ipmi';
import { describe, expect, it } from 'vitest';
import type { IpmiRequester } from './commands.js';
import { readFru, systemFirmwareVersion } from './fru.js';
import { identityOf } from './identity.js';
import { completionError } from './session/core.js';

// A FRU image written by hand (FRU spec §8, §11, §12): header | board at 8 | product at 56.
// board   01 06 | lang 00 | date 000000 | cb "Board Maker" | c8 "BRD-X11D" | c8 "BSN-7777" | c4 "P-01" | c0 | c1 | pad | cs
// product 01 08 | lang 00 | c8 "ACME Inc" | ca "Rack 2000X" | c6 "R2000X" | c2 "A1" | c8 "SN-12345" | c0 | c0 | c1 | pad | cs
const IMAGE = fromHex(
  '01000001070000f7'
  + '010600000000cb426f617264204d616b6572c84252442d58313144c842534e2d37373737c4502d3031c0c10000000094'
  + '010800c841434d4520496e63ca5261636b203230303058c6523230303058c24131c8534e2d3132333435c0c0c10000000000000000000000000000000000001e',
);

interface FakeBmc extends IpmiRequester {
  reads: { offset: number; count: number }[];
}

/**
 * A BMC that serves `image` as FRU device 0: refuses reads larger than `maxRead` with `tooLarge`, returns at most
 * `shortRead` bytes per read, accesses by words when asked, answers `noFru` to Get FRU Inventory Area Info and
 * `firmware` (or `noSystemInfo`) to Get System Info Parameters.
 */
function fakeBmc(options: { image?: Uint8Array; size?: number; maxRead?: number; tooLarge?: number; shortRead?: number; byWords?: boolean; noFru?: number; firmware?: string; noSystemInfo?: number } = {}): FakeBmc {
  const image = options.image ?? IMAGE;
  const unit = options.byWords ? 2 : 1;
  const reads: { offset: number; count: number }[] = [];
  return {
    reads,
    async request(command: CommandRequest): Promise<Uint8Array> {
      if (command.netFn === 0x0a && command.command === 0x10) {
        if (options.noFru !== undefined) throw completionError(command, options.noFru);
        return encodeFruInventoryAreaInfo({ size: options.size ?? image.length, byWords: options.byWords === true });
      }
      if (command.netFn === 0x0a && command.command === 0x11) {
        const { offset, count } = decodeReadFruDataRequest(command.data);
        const bytes = count * unit;
        reads.push({ offset: offset * unit, count: bytes });
        if (bytes > (options.maxRead ?? 64)) throw completionError(command, options.tooLarge ?? 0xc8);
        const served = image.slice(offset * unit, offset * unit + Math.min(bytes, options.shortRead ?? bytes));
        const response = encodeReadFruData(served);
        response[0] = served.length / unit;
        return response;
      }
      if (command.netFn === 0x06 && command.command === 0x59) {
        if (options.firmware === undefined) throw completionError(command, options.noSystemInfo ?? 0xc1);
        return encodeSystemInfoStringSet(options.firmware, decodeGetSystemInfoRequest(command.data).setSelector);
      }
      throw completionError(command, 0xc1);
    },
  };
}

const BOARD = { language: 0, manufactured: null, manufacturer: 'Board Maker', productName: 'BRD-X11D', serialNumber: 'BSN-7777', partNumber: 'P-01', custom: [] };
const PRODUCT = { language: 0, manufacturer: 'ACME Inc', productName: 'Rack 2000X', partNumber: 'R2000X', version: 'A1', serialNumber: 'SN-12345', custom: [] };

describe('reading the FRU device (IPMI v2.0 §34)', () => {
  it('reads the header and only the areas it points to, 32 bytes per read at first', async () => {
    const bmc = fakeBmc();
    expect(await readFru(bmc)).toEqual({ info: { board: BOARD, product: PRODUCT }, failures: [] });
    expect(bmc.reads).toEqual([{ offset: 0, count: 8 }, { offset: 8, count: 32 }, { offset: 40, count: 16 }, { offset: 56, count: 32 }, { offset: 88, count: 32 }]);
  });

  it.each([['0xc7', 0xc7], ['0xc8', 0xc8], ['0xca', 0xca]])('shrinks the read by 8 bytes on completion code %s until the BMC takes it', async (_name, tooLarge) => {
    const bmc = fakeBmc({ maxRead: 16, tooLarge });
    expect((await readFru(bmc)).info).toEqual({ board: BOARD, product: PRODUCT });
    expect(bmc.reads.slice(1, 4)).toEqual([{ offset: 8, count: 32 }, { offset: 8, count: 24 }, { offset: 8, count: 16 }]);
    expect(Math.max(...bmc.reads.slice(4).map((read) => read.count))).toBe(16);
  });

  it('fails with the completion code when even 8 bytes are too many', async () => {
    const bmc = fakeBmc({ maxRead: 4 });
    await expect(readFru(bmc)).rejects.toMatchObject({ details: { completionCode: 0xc8 } });
  });

  it('continues from where a short answer stopped', async () => {
    const bmc = fakeBmc({ shortRead: 5 });
    expect((await readFru(bmc)).info).toEqual({ board: BOARD, product: PRODUCT });
    // 5 bytes a time: header 8 (2 reads); board first 32 (7) and 16 more (4); product first 32 (7) and 32 more (7)
    expect(bmc.reads.length).toBe(27);
  });

  it('addresses a word-accessed device in words', async () => {
    const bmc = fakeBmc({ byWords: true });
    expect((await readFru(bmc)).info).toEqual({ board: BOARD, product: PRODUCT });
    expect(bmc.reads[0]).toEqual({ offset: 0, count: 8 });
  });

  it('never reads past the inventory size the BMC reports: an area past it is a failure beside the others', async () => {
    // inventory of 80 bytes: the product area (56..120) runs past it
    const bmc = fakeBmc({ size: 80 });
    const { info, failures } = await readFru(bmc);
    expect(info).toEqual({ board: BOARD });
    expect(failures.map((failure) => [failure.area, failure.error.details?.['reason']])).toEqual([['product', 'TRUNCATED']]);
    expect(Math.max(...bmc.reads.map((read) => read.offset + read.count))).toBeLessThanOrEqual(80);
  });

  it('stops at the read cap', async () => {
    const bmc = fakeBmc();
    const { info, failures } = await readFru(bmc, 0, 40);
    expect(info).toEqual({});
    expect(failures.map((failure) => [failure.area, failure.error.code])).toEqual([['board', 'BMC_PROTOCOL_ERROR'], ['product', 'BMC_PROTOCOL_ERROR']]);
    expect(bmc.reads.reduce((sum, read) => sum + read.count, 0)).toBe(40);
  });

  it('keeps the good areas when one is damaged', async () => {
    const damaged = IMAGE.slice();
    damaged[60] = damaged[60]! ^ 0x01; // inside the product area: its checksum no longer holds
    const { info, failures } = await readFru(fakeBmc({ image: damaged }));
    expect(info).toEqual({ board: BOARD });
    expect(failures.map((failure) => [failure.area, failure.error.details?.['reason']])).toEqual([['product', 'BAD_CHECKSUM']]);
  });

  it('refuses an unprogrammed FRU with a typed error', async () => {
    await expect(readFru(fakeBmc({ image: new Uint8Array(64).fill(0xff) }))).rejects.toMatchObject({ code: 'BMC_UNSUPPORTED', details: { reason: 'FRU_UNPROGRAMMED' } });
  });

  it('passes a BMC without FRU on as its completion code', async () => {
    await expect(readFru(fakeBmc({ noFru: 0xcb }))).rejects.toMatchObject({ details: { completionCode: 0xcb } });
  });
});

describe('system firmware version (Get System Info Parameters, parameter 1)', () => {
  it('reads a version that spans three sets', async () => {
    const version = 'AMI BIOS 3.4a build 2025-06-01 (release)';
    expect(await systemFirmwareVersion(fakeBmc({ firmware: version }))).toBe(version);
  });

  it.each([['0xc1 invalid command', 0xc1], ['0x80 parameter not supported', 0x80]])('is absent, without a warning, when the BMC answers %s', async (_name, noSystemInfo) => {
    const warnings: LightsoutError[] = [];
    expect(await systemFirmwareVersion(fakeBmc({ noSystemInfo }), (error) => warnings.push(error))).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('is absent with a warning on any other completion code, and when never set', async () => {
    const warnings: LightsoutError[] = [];
    expect(await systemFirmwareVersion(fakeBmc({ noSystemInfo: 0xd4 }), (error) => warnings.push(error))).toBeUndefined();
    expect(warnings.map((warning) => warning.details?.['completionCode'])).toEqual([0xd4]);
    expect(await systemFirmwareVersion(fakeBmc({ firmware: '' }))).toBeUndefined();
  });

  it('lets transport failures through', async () => {
    const dead: IpmiRequester = { request: () => Promise.reject(new LightsoutError('BMC_TIMEOUT', 'no answer')) };
    await expect(systemFirmwareVersion(dead)).rejects.toMatchObject({ code: 'BMC_TIMEOUT' });
    await expect(readFru(dead)).rejects.toMatchObject({ code: 'BMC_TIMEOUT' });
  });
});

describe('identity from Get Device ID, FRU and system info', () => {
  // Get Device ID (§20.1): Supermicro (10876 = 0x002a7c), product 0x0100, firmware 1.73
  const device = decodeDeviceId(Uint8Array.of(0x20, 0x81, 0x01, 0x73, 0x02, 0xbf, 0x7c, 0x2a, 0x00, 0x00, 0x01));

  it('takes the product area first, with its part number beside the name', () => {
    expect(identityOf(device, { board: BOARD, product: PRODUCT }, 'BIOS 2.1')).toEqual({
      source: 'ipmi', vendor: 'ACME Inc', manufacturerId: 10876, model: 'Rack 2000X (R2000X)', productId: 256, serialNumber: 'SN-12345', bmcFirmware: '1.73', biosVersion: 'BIOS 2.1',
    });
  });

  it('falls back to the chassis serial, then the board; to the board name; to the IANA vendor', () => {
    const chassis = { type: 0x17, serialNumber: 'CHS-1', custom: [] };
    expect(identityOf(device, { board: BOARD, chassis })).toMatchObject({ vendor: 'Board Maker', model: 'BRD-X11D', serialNumber: 'CHS-1' });
    expect(identityOf(device, { board: { ...BOARD, manufacturer: undefined } as never })).toMatchObject({ vendor: 'Supermicro', serialNumber: 'BSN-7777' });
  });

  it('treats vendor placeholders as absent and drops control characters', () => {
    const product = { ...PRODUCT, serialNumber: 'To Be Filled By O.E.M.', productName: 'Rack\u00072000X', partNumber: undefined } as never;
    expect(identityOf(device, { product, board: BOARD })).toMatchObject({ serialNumber: 'BSN-7777', model: 'Rack2000X' });
  });

  it('is Get Device ID alone without FRU or system info', () => {
    expect(identityOf(device)).toEqual({ source: 'ipmi', vendor: 'Supermicro', manufacturerId: 10876, productId: 256, bmcFirmware: '1.73' });
  });
});
