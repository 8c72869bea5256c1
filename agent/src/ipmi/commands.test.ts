import { decodeSdrRecord, fromHex, toHex, type CommandRequest } from '@lightsout/bmc-wire/ipmi';
import { describe, expect, it } from 'vitest';
import { clearSel, sdrRecords, setBootOverride, type IpmiRequester } from './commands.js';
import { completionError } from './session/core.js';

/** Chassis netFn 0x00: Set (0x08) and Get (0x09) System Boot Options, IPMI v2.0 §28.12–§28.13. */
function bootOptionsBmc(options: { refuseCommit?: number } = {}) {
  const writes: string[] = [];
  const requester: IpmiRequester = {
    async request(command: CommandRequest) {
      if (command.netFn === 0x00 && command.command === 0x08) {
        writes.push(toHex(command.data));
        if (options.refuseCommit !== undefined && command.data[0] === 0x00 && command.data[1] === 0x02) throw completionError(command, options.refuseCommit);
        return new Uint8Array();
      }
      // Boot flags as read back: parameter version 1, parameter 5 valid, EFI boot type set.
      if (command.netFn === 0x00 && command.command === 0x09) return Uint8Array.of(0x01, 0x05, 0x20, 0x00, 0x00, 0x00, 0x00);
      throw completionError(command, 0xc1);
    },
  };
  return { requester, writes };
}

describe('setBootOverride', () => {
  it('writes set-in-progress, acknowledge, boot flags, commit-write, set-complete, in that order (§28.13 parameter 0)', async () => {
    const bmc = bootOptionsBmc();
    await setBootOverride(bmc.requester, { device: 'pxe', persistent: false, uefi: true });
    expect(bmc.writes).toEqual(['0001', '040101', '05a004000000', '0002', '0000']);
  });

  it.each([
    { name: '0x80 (parameter not supported)', completionCode: 0x80 },
    { name: '0xCC (invalid data field)', completionCode: 0xcc },
  ])('still sets the boot device when the BMC refuses commit-write with $name', async ({ completionCode }) => {
    const bmc = bootOptionsBmc({ refuseCommit: completionCode });
    await setBootOverride(bmc.requester, { device: 'disk', persistent: true });
    expect(bmc.writes).toEqual(['0001', '040101', '05e008000000', '0002', '0000']);
  });
});

interface SelBmc {
  requester: IpmiRequester;
  /** Storage requests in order: `reserve → N`, `erase R`, `status R` (R the reservation the request carried). */
  log: string[];
}

/**
 * A SEL behind Reserve SEL (0x42) and Clear SEL (0x47), §31.4 and §31.9. Every reservation cancels the
 * one before it; starting an erase cancels all of them (as OpenBMC's ipmiStorageClearSEL does) unless
 * `keepsReservation`. The erase is reported complete on the `completeAfter`-th status read (never when undefined).
 */
function selBmc(completeAfter: number | undefined, keepsReservation = false): SelBmc {
  const log: string[] = [];
  let reservation = 0;
  let valid = true;
  let statusReads = 0;
  const requester: IpmiRequester = {
    async request(command: CommandRequest) {
      if (command.netFn === 0x0a && command.command === 0x42) {
        reservation++;
        valid = true;
        log.push(`reserve → ${reservation}`);
        return Uint8Array.of(reservation & 0xff, reservation >> 8);
      }
      if (command.netFn === 0x0a && command.command === 0x47) {
        const carried = command.data[0]! | (command.data[1]! << 8);
        const initiate = command.data[5] === 0xaa;
        log.push(`${initiate ? 'erase' : 'status'} ${carried}`);
        if (!valid || carried !== reservation) throw completionError(command, 0xc5);
        if (initiate) {
          valid = keepsReservation;
          return Uint8Array.of(0x00);
        }
        statusReads++;
        return Uint8Array.of(completeAfter !== undefined && statusReads >= completeAfter ? 0x01 : 0x00);
      }
      throw completionError(command, 0xc1);
    },
  };
  return { requester, log };
}

describe('clearSel', () => {
  it('takes a fresh reservation before every status read, since the erase cancelled the old one, and resolves once the erase is seen complete', async () => {
    const bmc = selBmc(3);
    await clearSel(bmc.requester, { pollIntervalMs: 1, timeoutMs: 5_000 });
    expect(bmc.log).toEqual(['reserve → 1', 'erase 1', 'reserve → 2', 'status 2', 'reserve → 3', 'status 3', 'reserve → 4', 'status 4']);
  });

  it('rejects with BMC_TIMEOUT when the BMC never reports the erase complete', async () => {
    const bmc = selBmc(undefined, true);
    await expect(clearSel(bmc.requester, { pollIntervalMs: 2, timeoutMs: 40 })).rejects.toMatchObject({ code: 'BMC_TIMEOUT', message: expect.stringMatching(/SEL/) });
    const statusReads = bmc.log.filter((line) => line.startsWith('status'));
    expect(statusReads.length).toBeGreaterThan(1);
    // Polled with a pause between reads, not back to back: 40 ms at 2 ms apart is at most 20 reads.
    expect(statusReads.length).toBeLessThanOrEqual(21);
  });
});

// Records as OpenIPMI's sdrcomp writes them (as in sdr-cache.test.ts): a full threshold sensor "Board Temp"
// (5 + 53 bytes) and a compact one "DIMM A1" (5 + 33 bytes).
const FULL_RECORD = fromHex('03005101352000010701450001010000000000000001000001000001010000000000ff000000000000000000000000ca426f6172642054656d70');
const COMPACT_RECORD = fromHex('040051022120000220010000256f000000000000c0000000000000000000008764dab6401801');

interface SdrRead {
  recordId: number;
  offset: number;
  length: number;
}

/** What a Get SDR gets instead of its plain answer: a completion code, or only the first `bytes` bytes. */
type SdrQuirk = { completionCode: number } | { bytes: number } | undefined;

interface SdrBmc {
  requester: IpmiRequester;
  /** `reserve → N`, then every Get SDR as `R #ID @offset+length` (R the reservation it carried), `→ cc`/`→ n bytes` when not answered in full. */
  log: string[];
}

/**
 * An SDR repository behind Reserve SDR Repository (0x22) and Get SDR (0x23), IPMI v2.0 §33.11–§33.12: records
 * are numbered from 1 (0 asks for the first), a reservation cancels the one before, and a Get SDR under a cancelled
 * one answers 0xC5. `quirk` sees every Get SDR first; a 0xC5 it answers also cancels the reservation (the repository
 * changed). A walk that never ends fails with a plain Error instead of hanging the test.
 */
function sdrBmc(records: readonly Uint8Array[], quirk: (read: SdrRead) => SdrQuirk = () => undefined): SdrBmc {
  const log: string[] = [];
  let reservation = 0;
  let valid = false;
  const requester: IpmiRequester = {
    async request(command: CommandRequest) {
      if (log.length > 2000) throw new Error('runaway SDR walk');
      if (command.netFn === 0x0a && command.command === 0x22) {
        reservation++;
        valid = true;
        log.push(`reserve → ${reservation}`);
        return Uint8Array.of(reservation & 0xff, reservation >> 8);
      }
      if (command.netFn === 0x0a && command.command === 0x23) {
        const carried = command.data[0]! | (command.data[1]! << 8);
        const read = { recordId: command.data[2]! | (command.data[3]! << 8), offset: command.data[4]!, length: command.data[5]! };
        const line = `${carried} #${read.recordId} @${read.offset}+${read.length}`;
        if (!valid || carried !== reservation) {
          log.push(`${line} → c5`);
          throw completionError(command, 0xc5);
        }
        const index = read.recordId === 0 ? 0 : read.recordId - 1;
        const next = index + 1 < records.length ? index + 2 : 0xffff;
        let bytes = records[index]!.subarray(read.offset, read.offset + read.length);
        const answer = quirk(read);
        if (answer !== undefined && 'completionCode' in answer) {
          if (answer.completionCode === 0xc5) valid = false;
          log.push(`${line} → ${answer.completionCode.toString(16)}`);
          throw completionError(command, answer.completionCode);
        }
        if (answer !== undefined) bytes = bytes.subarray(0, answer.bytes);
        log.push(bytes.length === read.length ? line : `${line} → ${bytes.length} bytes`);
        return Uint8Array.of(next & 0xff, next >> 8, ...bytes);
      }
      throw completionError(command, 0xc1);
    },
  };
  return { requester, log };
}

const BOTH_RECORDS = [FULL_RECORD, COMPACT_RECORD].map((record) => decodeSdrRecord(record));

describe('sdrRecords (Get SDR in pieces, IPMI v2.0 §33.12)', () => {
  it('reads the header, then the body in 16-byte pieces under one reservation', async () => {
    const bmc = sdrBmc([FULL_RECORD, COMPACT_RECORD]);
    expect(await sdrRecords(bmc.requester)).toEqual(BOTH_RECORDS);
    expect(bmc.log).toEqual(['reserve → 1', '1 #0 @0+5', '1 #0 @5+16', '1 #0 @21+16', '1 #0 @37+16', '1 #0 @53+5', '1 #2 @0+5', '1 #2 @5+16', '1 #2 @21+16', '1 #2 @37+1']);
  });

  it('reserves again and reads the same piece again when the reservation is cancelled in the middle of a record body (0xC5)', async () => {
    let cancelled = false;
    const bmc = sdrBmc([FULL_RECORD, COMPACT_RECORD], (read) => {
      if (read.recordId !== 0 || read.offset !== 21 || cancelled) return undefined;
      cancelled = true;
      return { completionCode: 0xc5 };
    });
    expect(await sdrRecords(bmc.requester)).toEqual(BOTH_RECORDS);
    expect(bmc.log.slice(0, 8)).toEqual(['reserve → 1', '1 #0 @0+5', '1 #0 @5+16', '1 #0 @21+16 → c5', 'reserve → 2', '2 #0 @21+16', '2 #0 @37+16', '2 #0 @53+5']);
    expect(bmc.log.filter((line) => line.startsWith('reserve'))).toHaveLength(2);
  });

  it('asks smaller pieces when the BMC cannot return 16 bytes (0xCA), and keeps the smaller size for the rest of the walk', async () => {
    const bmc = sdrBmc([FULL_RECORD, COMPACT_RECORD], (read) => (read.length > 8 ? { completionCode: 0xca } : undefined));
    expect(await sdrRecords(bmc.requester)).toEqual(BOTH_RECORDS);
    expect(bmc.log.slice(0, 5)).toEqual(['reserve → 1', '1 #0 @0+5', '1 #0 @5+16 → ca', '1 #0 @5+8', '1 #0 @13+8']);
    expect(bmc.log.filter((line) => line.endsWith('→ ca'))).toHaveLength(1);
    expect(bmc.log.slice(-5)).toEqual(['1 #2 @5+8', '1 #2 @13+8', '1 #2 @21+8', '1 #2 @29+8', '1 #2 @37+1']);
  });

  it('reads on from where a short answer ends: a BMC that returns fewer bytes than asked loses none', async () => {
    const bmc = sdrBmc([FULL_RECORD, COMPACT_RECORD], () => ({ bytes: 7 }));
    expect(await sdrRecords(bmc.requester)).toEqual(BOTH_RECORDS);
    expect(bmc.log.slice(0, 6)).toEqual(['reserve → 1', '1 #0 @0+5', '1 #0 @5+16 → 7 bytes', '1 #0 @12+16 → 7 bytes', '1 #0 @19+16 → 7 bytes', '1 #0 @26+16 → 7 bytes']);
    expect(bmc.log.slice(-2)).toEqual(['1 #2 @26+12 → 7 bytes', '1 #2 @33+5']);
  });

  it('gives up with BMC_BUSY after 3 cancelled reservations in a row for one piece, instead of reserving forever', async () => {
    const bmc = sdrBmc([FULL_RECORD], () => ({ completionCode: 0xc5 }));
    await expect(sdrRecords(bmc.requester)).rejects.toMatchObject({ code: 'BMC_BUSY', details: { completionCode: 0xc5, recordId: 0, offset: 0 } });
    expect(bmc.log).toEqual(['reserve → 1', '1 #0 @0+5 → c5', 'reserve → 2', '2 #0 @0+5 → c5', 'reserve → 3', '3 #0 @0+5 → c5']);
  });

  it('fails with BMC_PROTOCOL_ERROR when even a 1-byte piece gets 0xCA', async () => {
    const bmc = sdrBmc([FULL_RECORD], (read) => (read.offset >= 5 ? { completionCode: 0xca } : undefined));
    await expect(sdrRecords(bmc.requester)).rejects.toMatchObject({ code: 'BMC_PROTOCOL_ERROR', details: { completionCode: 0xca, recordId: 0, offset: 5 } });
    expect(bmc.log.slice(2)).toEqual(['1 #0 @5+16 → ca', '1 #0 @5+8 → ca', '1 #0 @5+4 → ca', '1 #0 @5+2 → ca', '1 #0 @5+1 → ca']);
  });

  it('fails with BMC_PROTOCOL_ERROR when the BMC keeps answering no record bytes', async () => {
    const bmc = sdrBmc([FULL_RECORD], (read) => (read.offset >= 5 ? { bytes: 0 } : undefined));
    await expect(sdrRecords(bmc.requester)).rejects.toMatchObject({ code: 'BMC_PROTOCOL_ERROR', details: { recordId: 0, offset: 5 } });
    expect(bmc.log.slice(2)).toEqual(['1 #0 @5+16 → 0 bytes', '1 #0 @5+16 → 0 bytes', '1 #0 @5+16 → 0 bytes']);
  });
});
