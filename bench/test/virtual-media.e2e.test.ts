import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MediaState } from '@lightsout/shared';
import { type MediaStack, startMediaStack, writeIsoImage } from '../lib/media-stack.js';
import { eventually } from '../lib/processes.js';

/**
 * The one action end to end: `lightsout media mount SERVER file.iso --boot`
 * (the real CLI, tus upload with a progress bar) → the relay (a process) →
 * the agent (a process: pulls the image, serves it signed, drives Redfish) →
 * the simulated BMC, which downloads the image and whose host prints on its
 * serial console that it boots from the virtual CD.
 */
let stack: MediaStack;
let isoFile: string;
let sha256: string;
const imageSize = 6 * 1024 * 1024 + 123;

beforeAll(async () => {
  // the simulated BMC reads at most 8 MiB: the last test mounts a larger image to see a step fail
  stack = await startMediaStack({ mediaMaxBytes: 8 * 1024 * 1024 });
  isoFile = join(stack.root, 'rescue.iso');
  sha256 = writeIsoImage(isoFile, imageSize).sha256;
}, 180_000);
afterAll(async () => {
  await stack?.stop();
});

describe('lightsout media mount --boot → relay → agent → simulated BMC', () => {
  it('uploads with progress, mounts, boots once from the virtual CD and reports it', async () => {
    const result = await stack.cli(['media', 'mount', 'vm-01', isoFile, '--boot'], 120_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('vm-01: booting from virtual media\n');
    expect(result.stderr).toMatch(/^upload\s+\[#{30}\] 100%/m);
    await eventually('the host to boot from the virtual CD', 20_000, async () => (stack.serial().includes('Booting from virtual CD: rescue.iso') ? true : undefined));
    expect(stack.bmc.host.virtualMedia).toMatchObject({ bytes: imageSize });

    const status = await stack.cli(['media', 'status', 'vm-01', '--json']);
    const state = JSON.parse(status.stdout) as MediaState;
    expect(state).toMatchObject({ step: 'booting', image: { sha256, filename: 'rescue.iso' }, mountedBy: 'operator', error: null });
    expect(Date.parse(state.mountedAt!)).toBeGreaterThan(Date.now() - 120_000);
  }, 180_000);

  it('mounts the same image again without uploading or transferring it again', async () => {
    const result = await stack.cli(['media', 'mount', 'vm-01', isoFile], 60_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/already uploaded for this server/);
    expect(result.stderr).not.toMatch(/^upload /m);
    expect(result.stdout).toBe('vm-01: image mounted\n');
  }, 60_000);

  it('ejects, and the state says so', async () => {
    const result = await stack.cli(['media', 'eject', 'vm-01']);
    expect(result.code, result.stderr).toBe(0);
    expect(stack.bmc.host.virtualMedia).toBeUndefined();
    const state = JSON.parse((await stack.cli(['media', 'status', 'vm-01', '--json'])).stdout) as MediaState;
    expect(state).toMatchObject({ step: 'idle', image: null });
  }, 60_000);

  it('names the step that failed and the BMC\'s reason when the BMC cannot read the image', async () => {
    const big = join(stack.root, 'too-big.iso');
    writeFileSync(big, randomBytes(10 * 1024 * 1024));
    const result = await stack.cli(['media', 'mount', 'vm-01', big, '--boot'], 120_000);
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/^error BMC_PROTOCOL_ERROR: failed while mounting the image on the BMC: .*larger than 8388608 bytes/m);
    const state = JSON.parse((await stack.cli(['media', 'status', 'vm-01', '--json'])).stdout) as MediaState;
    expect(state).toMatchObject({ step: 'failed', failedStep: 'mounting', error: { code: 'BMC_PROTOCOL_ERROR' } });
    expect(stack.serial()).not.toContain('too-big');
  }, 150_000);

  it('says clearly that virtual media needs Redfish on an IPMI-only server', async () => {
    const result = await stack.cli(['media', 'mount', 'ipmi-only', isoFile, '--boot'], 60_000);
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/^error BMC_UNSUPPORTED: virtual media needs Redfish/m);
    expect(result.stderr).toMatch(/hint: .*IPMI has no virtual media/);
  }, 60_000);
});
