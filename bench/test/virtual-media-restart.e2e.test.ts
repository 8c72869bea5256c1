import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freeTcpPort } from '@lightsout/lab';
import type { MediaState } from '@lightsout/shared';
import { type MediaStack, startMediaStack, writeIsoImage } from '../lib/media-stack.js';
import { eventually } from '../lib/processes.js';

/**
 * An agent restart (an upgrade, a crash: kill -9) while an image is mounted:
 * the BMC still has it inserted, so the agent must still know it — which
 * image, since when, by whom — and still eject it on time. The media server
 * listens on a fixed port, as in production, so the URL the BMC holds stays
 * valid across the restart.
 */
let stack: MediaStack;
let isoFile: string;
let sha256: string;

beforeAll(async () => {
  stack = await startMediaStack({ agentEnv: { LIGHTSOUT_MEDIA_LISTEN: `127.0.0.1:${await freeTcpPort()}`, LIGHTSOUT_MEDIA_AUTO_EJECT_SECONDS: '3600' } });
  isoFile = join(stack.root, 'installer.iso');
  sha256 = writeIsoImage(isoFile, 2 * 1024 * 1024).sha256;
}, 180_000);
afterAll(async () => {
  await stack?.stop();
});

const status = async () => JSON.parse((await stack.cli(['media', 'status', 'vm-01', '--json'])).stdout) as MediaState;

it('an agent killed and restarted keeps the mount — image, who, since when, auto-eject — and still ejects on time', async () => {
  const mounted = await stack.cli(['media', 'mount', 'vm-01', isoFile], 120_000);
  expect(mounted.code, mounted.stderr).toBe(0);
  const before = await status();
  expect(before).toMatchObject({ image: { sha256, filename: 'installer.iso' }, mountedBy: 'operator' });
  expect(Date.parse(before.autoEjectAt!) - Date.parse(before.mountedAt!)).toBe(3600_000);

  await stack.restartAgent();
  const after = await status();
  expect(after).toMatchObject({ image: { sha256, filename: 'installer.iso' }, mountedBy: 'operator', mountedAt: before.mountedAt, autoEjectAt: before.autoEjectAt });
  expect(stack.bmc.host.virtualMedia).toMatchObject({ bytes: 2 * 1024 * 1024 });

  // The deadline passes while the agent is down: it ejects as soon as it is back.
  const saved = join(stack.root, 'agent-state', 'media-mounts.json');
  await stack.restartAgent(() => {
    const record = JSON.parse(readFileSync(saved, 'utf8')) as { mounts: Record<string, { autoEjectAt: string }> };
    expect(Object.keys(record.mounts)).toEqual(['vm-01']);
    record.mounts['vm-01']!.autoEjectAt = new Date(Date.now() - 1000).toISOString();
    writeFileSync(saved, JSON.stringify(record));
  });
  await eventually('the BMC to have the image ejected', 30_000, async () => (stack.bmc.host.virtualMedia === undefined ? true : undefined));
  await eventually('the state to say nothing is mounted', 30_000, async () => ((await status()).image === null ? true : undefined));
  expect(JSON.parse(readFileSync(saved, 'utf8'))).toEqual({ version: 1, mounts: {} });
}, 300_000);
