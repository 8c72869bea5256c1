import { fromHex, type CommandRequest } from '@lightsout/bmc-wire/ipmi';
import { LightsoutError } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import type { IpmiRequester } from './commands.js';
import { SdrCache } from './sdr-cache.js';
import { completionError } from './session/core.js';

// Records as OpenIPMI's sdrcomp writes them (the bmc-wire codec tests decode the same bytes): a full threshold
// sensor "Board Temp" and a compact one "DIMM A1".
const FULL = fromHex('03005101352000010701450001010000000000000001000001000001010000000000ff000000000000000000000000ca426f6172642054656d70');
const COMPACT = fromHex('040051022120000220010000256f000000000000c0000000000000000000008764dab6401801');

interface Repository extends IpmiRequester {
  records: Uint8Array[];
  lastAddition: number;
  /** Get SDR Repository Info answers this completion code instead (a BMC without the command). */
  refuseInfo?: number;
  /** Get SDR Repository Info answers this many bytes only. */
  shortInfo?: boolean;
  /** Get SDR Repository Info is never answered (a lost session): the session's error. */
  infoFails?: boolean;
  /** Requests by storage command: 0x20 info, 0x22 reserve, 0x23 Get SDR. */
  count: Map<number, number>;
}

/** An SDR repository behind the storage commands of IPMI v2.0 §33.9–§33.12, serving records in 16-byte pieces. */
function repository(records: Uint8Array[]): Repository {
  const repo: Repository = {
    records,
    lastAddition: 0x6000_0000,
    count: new Map(),
    async request(command: CommandRequest): Promise<Uint8Array> {
      if (command.netFn !== 0x0a) throw completionError(command, 0xc1);
      repo.count.set(command.command, (repo.count.get(command.command) ?? 0) + 1);
      if (command.command === 0x20) {
        if (repo.infoFails) throw new LightsoutError('BMC_TIMEOUT', 'BMC stopped answering');
        if (repo.refuseInfo !== undefined) throw completionError(command, repo.refuseInfo);
        const info = new Uint8Array(14);
        info[0] = 0x51;
        info[1] = repo.records.length;
        new DataView(info.buffer).setUint32(5, repo.lastAddition, true);
        return repo.shortInfo ? info.subarray(0, 5) : info;
      }
      if (command.command === 0x22) return Uint8Array.of(0x01, 0x00);
      if (command.command === 0x23) {
        const recordId = command.data[2]! | (command.data[3]! << 8);
        const index = recordId === 0 ? 0 : recordId - 1;
        const record = repo.records[index]!;
        const offset = command.data[4]!;
        const next = index + 1 < repo.records.length ? index + 2 : 0xffff;
        return Uint8Array.of(next & 0xff, next >> 8, ...record.subarray(offset, offset + command.data[5]!));
      }
      throw completionError(command, 0xc1);
    },
  };
  return repo;
}

const getSdrCalls = (repo: Repository) => repo.count.get(0x23) ?? 0;

describe('the SDR repository cache (IPMI v2.0 §33.9)', () => {
  it('walks the repository once and reads it again only when Get SDR Repository Info says it changed', async () => {
    const repo = repository([FULL]);
    const cache = new SdrCache();
    const first = await cache.records(repo);
    expect(first.map((record) => ('name' in record ? record.name : undefined))).toEqual(['Board Temp']);
    const walk = getSdrCalls(repo);
    // A header and 16-byte pieces per record: a walk costs several requests even for one record.
    expect(walk).toBeGreaterThan(3);

    expect(await cache.records(repo)).toBe(first);
    expect(getSdrCalls(repo)).toBe(walk);
    expect(repo.count.get(0x20)).toBe(2);

    // A record added: the addition timestamp (and the count) moved, so the next read walks and sees it.
    repo.records = [FULL, COMPACT];
    repo.lastAddition += 60;
    const second = await cache.records(repo);
    expect(second.map((record) => ('name' in record ? record.name : undefined))).toEqual(['Board Temp', 'DIMM A1']);
    expect(getSdrCalls(repo)).toBeGreaterThan(walk);
  });

  it('notices a change of the record count alone (a BMC whose clock never moves)', async () => {
    const repo = repository([FULL]);
    const cache = new SdrCache();
    await cache.records(repo);
    repo.records = [FULL, COMPACT];
    expect(await cache.records(repo)).toHaveLength(2);
  });

  it('walks again once the copy is older than its maximum age, whatever the BMC says', async () => {
    let now = 0;
    const repo = repository([FULL]);
    const cache = new SdrCache(1000, () => now);
    await cache.records(repo);
    const walk = getSdrCalls(repo);
    now = 999;
    await cache.records(repo);
    expect(getSdrCalls(repo)).toBe(walk);
    now = 1000;
    await cache.records(repo);
    expect(getSdrCalls(repo)).toBe(2 * walk);
  });

  it('walks on every read for a BMC that refuses Get SDR Repository Info or answers it short: nothing tells a stale copy', async () => {
    for (const repo of [Object.assign(repository([FULL]), { refuseInfo: 0xc1 }), Object.assign(repository([FULL]), { shortInfo: true })]) {
      const cache = new SdrCache();
      await cache.records(repo);
      const walk = getSdrCalls(repo);
      expect(await cache.records(repo)).toHaveLength(1);
      expect(getSdrCalls(repo)).toBe(2 * walk);
    }
  });

  it('fails the read when the session fails (a timeout is not an answer), and keeps no copy from it', async () => {
    const repo = Object.assign(repository([FULL]), { infoFails: true });
    const cache = new SdrCache();
    await expect(cache.records(repo)).rejects.toMatchObject({ code: 'BMC_TIMEOUT' });
    expect(getSdrCalls(repo)).toBe(0);
  });
});
