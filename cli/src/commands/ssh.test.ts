import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../exit-codes.js';
import { run } from '../main.js';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: unknown;
}

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** A relay stand-in on loopback that records what the CLI sent. */
async function fakeRelay(answer: (seen: Seen) => { status: number; body: unknown }) {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const entry = { method: request.method ?? 'GET', url: request.url ?? '', authorization: request.headers.authorization, body: text ? (JSON.parse(text) as unknown) : undefined };
      seen.push(entry);
      const { status, body } = answer(entry);
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function cli(argv: string[], relayUrl: string, env: Record<string, string> = { LIGHTSOUT_TOKEN: 't' }) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { env: { ...env, LIGHTSOUT_RELAY: relayUrl }, output: { out: (text) => (stdout += text), err: (text) => (stderr += text) } });
  return { code, stdout, stderr };
}

const KEY = { id: 'sshk_1', name: 'me@laptop', algorithm: 'ssh-ed25519', bits: 256, fingerprint: 'SHA256:abc', publicKey: 'ssh-ed25519 AAAA', createdAt: '2026-01-01T00:00:00.000Z', lastUsedAt: null };

describe('lightsout ssh-keys', () => {
  it('add sends the .pub file\'s line, and refuses a private key file without sending anything', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'lightsout-cli-ssh-'));
    closers.push(() => rmSync(directory, { recursive: true, force: true }));
    writeFileSync(join(directory, 'id_ed25519.pub'), 'ssh-ed25519 AAAAC3Nza me@laptop\n');
    writeFileSync(join(directory, 'id_ed25519'), '-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n-----END OPENSSH PRIVATE KEY-----\n');
    const relay = await fakeRelay(() => ({ status: 201, body: KEY }));
    const added = await cli(['ssh-keys', 'add', join(directory, 'id_ed25519.pub')], relay.url);
    expect(added.code).toBe(ExitCode.OK);
    expect(added.stdout).toContain('SHA256:abc');
    expect(relay.seen).toEqual([{ method: 'POST', url: '/v1/me/ssh-keys', authorization: 'Bearer t', body: { publicKey: 'ssh-ed25519 AAAAC3Nza me@laptop' } }]);
    const refused = await cli(['ssh-keys', 'add', join(directory, 'id_ed25519')], relay.url);
    expect(refused.code).toBe(ExitCode.USAGE);
    expect(refused.stderr).toContain('private key');
    expect(relay.seen).toHaveLength(1);
  });

  it('list prints the fingerprints; remove deletes by id', async () => {
    const relay = await fakeRelay((seen) => (seen.method === 'GET' ? { status: 200, body: { keys: [KEY] } } : { status: 200, body: KEY }));
    const listed = await cli(['ssh-keys', 'list'], relay.url);
    expect(listed.stdout).toMatch(/sshk_1\s+me@laptop\s+ssh-ed25519 256\s+SHA256:abc/);
    expect((await cli(['ssh-keys', 'remove', 'sshk_1'], relay.url)).code).toBe(ExitCode.OK);
    expect(relay.seen.at(-1)).toMatchObject({ method: 'DELETE', url: '/v1/me/ssh-keys/sshk_1' });
  });
});

describe('lightsout ssh host-key', () => {
  it('needs no login and prints the fingerprint, or a known_hosts line', async () => {
    const relay = await fakeRelay(() => ({ status: 200, body: { algorithm: 'ssh-ed25519', fingerprint: 'SHA256:host', publicKey: 'ssh-ed25519 AAAAhost', port: 2222 } }));
    const shown = await cli(['ssh', 'host-key'], relay.url, {});
    expect(shown.code).toBe(ExitCode.OK);
    expect(shown.stdout).toContain('SHA256:host (ssh-ed25519)  port 2222');
    expect(relay.seen[0]!.authorization).toBeUndefined();
    expect((await cli(['ssh', 'host-key', '--known-hosts'], relay.url, {})).stdout).toBe('[127.0.0.1]:2222 ssh-ed25519 AAAAhost\n');
  });
});
