import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scratchDirectories } from '@lightsout/lab/scratch';
import { ExitCode } from '../exit-codes.js';
import { relayStubs, requestLine, runCli } from '../testing/relay-stub.js';

const relays = relayStubs();
const scratch = scratchDirectories('lightsout-cli-ssh-');
afterEach(async () => {
  await relays.closeAll();
  scratch.removeAll();
});

const KEY = { id: 'sshk_1', name: 'me@laptop', algorithm: 'ssh-ed25519', bits: 256, fingerprint: 'SHA256:abc', publicKey: 'ssh-ed25519 AAAA', createdAt: '2026-01-01T00:00:00.000Z', lastUsedAt: null };

describe('lightsout ssh-keys', () => {
  it('add sends the .pub file\'s line, and refuses a private key file without sending anything', async () => {
    const directory = scratch.make();
    writeFileSync(join(directory, 'id_ed25519.pub'), 'ssh-ed25519 AAAAC3Nza me@laptop\n');
    writeFileSync(join(directory, 'id_ed25519'), '-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n-----END OPENSSH PRIVATE KEY-----\n');
    const relay = await relays.start(() => ({ status: 201, body: KEY }));
    const added = await runCli(['ssh-keys', 'add', join(directory, 'id_ed25519.pub')], relay.url);
    expect(added.code).toBe(ExitCode.OK);
    expect(added.stdout).toContain('SHA256:abc');
    expect(relay.seen.map(requestLine)).toEqual([{ method: 'POST', url: '/v1/me/ssh-keys', authorization: 'Bearer t', body: { publicKey: 'ssh-ed25519 AAAAC3Nza me@laptop' } }]);
    const refused = await runCli(['ssh-keys', 'add', join(directory, 'id_ed25519')], relay.url);
    expect(refused.code).toBe(ExitCode.USAGE);
    expect(refused.stderr).toContain('private key');
    expect(relay.seen).toHaveLength(1);
  });

  it('list prints the fingerprints; remove deletes by id', async () => {
    const relay = await relays.start((seen) => (seen.method === 'GET' ? { status: 200, body: { keys: [KEY] } } : { status: 200, body: KEY }));
    const listed = await runCli(['ssh-keys', 'list'], relay.url);
    expect(listed.stdout).toMatch(/sshk_1\s+me@laptop\s+ssh-ed25519 256\s+SHA256:abc/);
    expect((await runCli(['ssh-keys', 'remove', 'sshk_1'], relay.url)).code).toBe(ExitCode.OK);
    expect(relay.seen.at(-1)).toMatchObject({ method: 'DELETE', url: '/v1/me/ssh-keys/sshk_1' });
  });
});

describe('lightsout ssh host-key', () => {
  it('needs no login and prints the fingerprint, or a known_hosts line', async () => {
    const relay = await relays.start(() => ({ status: 200, body: { algorithm: 'ssh-ed25519', fingerprint: 'SHA256:host', publicKey: 'ssh-ed25519 AAAAhost', port: 2222 } }));
    const shown = await runCli(['ssh', 'host-key'], relay.url, { env: {} });
    expect(shown.code).toBe(ExitCode.OK);
    expect(shown.stdout).toContain('SHA256:host (ssh-ed25519)  port 2222');
    expect(relay.seen[0]!.authorization).toBeUndefined();
    expect((await runCli(['ssh', 'host-key', '--known-hosts'], relay.url, { env: {} })).stdout).toBe('[127.0.0.1]:2222 ssh-ed25519 AAAAhost\n');
  });
});
