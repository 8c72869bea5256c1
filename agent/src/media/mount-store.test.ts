import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentMediaMount } from '@lightsout/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { scratchDirectories } from '@lightsout/lab/scratch';
import { fileMountStore } from './mount-store.js';

const scratch = scratchDirectories('lightsout-mounts-');
afterEach(scratch.removeAll);
const mount: AgentMediaMount = { sha256: 'a'.repeat(64), filename: 'debian.iso', mountedAt: '2026-11-22T08:00:00.000Z', mountedBy: 'alice', autoEjectAt: '2026-11-22T14:00:00.000Z' };

describe('fileMountStore', () => {
  it('keeps mounts across a save and a load (0600, no temporary file left), and starts empty without a file', () => {
    const file = join(scratch.make(), 'media-mounts.json');
    const store = fileMountStore(file, () => expect.unreachable());
    expect(store.load()).toEqual(new Map());
    // Extra fields of a live record (its pin release, its timer) are not written.
    store.save(new Map([['web-01', { ...mount, release: () => undefined } as AgentMediaMount]]));
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ version: 1, mounts: { 'web-01': mount } });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(existsSync(`${file}.tmp`)).toBe(false);
    expect(fileMountStore(file, () => expect.unreachable()).load()).toEqual(new Map([['web-01', mount]]));
  });

  it.each([
    ['not JSON', '{"version": 1, "mounts": {', /not JSON/],
    ['a future version', JSON.stringify({ version: 2, mounts: {} }), /version/],
    ['a bad image hash', JSON.stringify({ version: 1, mounts: { 'web-01': { ...mount, sha256: '../../etc/passwd' } } }), /sha256/],
  ])('reports a file with %s and starts with no mounts', (_name, text, reason) => {
    const file = join(scratch.make(), 'media-mounts.json');
    writeFileSync(file, text);
    const reasons: string[] = [];
    expect(fileMountStore(file, (why) => reasons.push(why)).load()).toEqual(new Map());
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(reason);
  });
});
