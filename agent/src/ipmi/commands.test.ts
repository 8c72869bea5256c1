import { toHex, type CommandRequest } from '@lightsout/bmc-wire/ipmi';
import { describe, expect, it } from 'vitest';
import { clearSel, setBootOverride, type IpmiRequester } from './commands.js';
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
