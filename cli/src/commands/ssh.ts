import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { homedir } from 'node:os';
import { LightsoutError, type SshCertificate, type SshHostKey, type SshKeyList, type SshKeyView } from '@lightsout/shared';
import { configDir } from '../config-store.js';
import { resolveRelay } from '../auth/session.js';
import { errorOf, send } from '../http.js';
import { json, printable, table } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

const keyRow = (key: SshKeyView) => [key.id, key.name, `${key.algorithm} ${key.bits}`, key.fingerprint, key.createdAt, key.lastUsedAt ?? '-'];

/** A `.pub` file, or `-` for stdin; `~/` is the user's home (a quoted path reaches us unexpanded). */
async function readPublicKey(path: string): Promise<string> {
  const resolved = path.startsWith('~/') ? `${homedir()}${path.slice(1)}` : path;
  if (resolved.endsWith('/id_ed25519') || resolved.endsWith('/id_ecdsa') || resolved.endsWith('/id_rsa')) {
    throw new LightsoutError('BAD_REQUEST', `${path} looks like a private key`, { hint: `register the public half: ${path}.pub` });
  }
  try {
    const text = resolved === '-' ? await readStdin() : await readFile(resolved, 'utf8');
    if (text.includes('PRIVATE KEY')) throw new LightsoutError('BAD_REQUEST', `${path} holds a private key; nothing was sent`, { hint: 'register the .pub file' });
    return text.trim();
  } catch (error) {
    if (error instanceof LightsoutError) throw error;
    throw new LightsoutError('BAD_REQUEST', `cannot read ${path}: ${(error as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function sshKeysAdd(context: CommandContext, path: string, options: { name?: string; json?: boolean }): Promise<void> {
  const publicKey = await readPublicKey(path);
  const added = await (await apiFor(context)).post<SshKeyView>('/v1/me/ssh-keys', { publicKey, ...(options.name === undefined ? {} : { name: options.name }) });
  context.output.out(options.json ? json(added) : printable(`added ${added.algorithm} key ${added.fingerprint} as ${added.id} (${added.name})\n`, { newlines: true }));
}

export async function sshKeysList(context: CommandContext, options: { json?: boolean }): Promise<void> {
  const list = await (await apiFor(context)).get<SshKeyList>('/v1/me/ssh-keys');
  context.output.out(options.json ? json(list) : table(['ID', 'NAME', 'TYPE', 'FINGERPRINT', 'ADDED', 'LAST USED'], list.keys.map(keyRow)));
}

export async function sshKeysRemove(context: CommandContext, keyId: string, options: { json?: boolean }): Promise<void> {
  const removed = await (await apiFor(context)).request<SshKeyView>('DELETE', `/v1/me/ssh-keys/${encodeURIComponent(keyId)}`, undefined);
  context.output.out(options.json ? json(removed) : printable(`removed ${removed.fingerprint} (${removed.id}); its SSH connections ended\n`, { newlines: true }));
}

/** The host key needs no login: it is what a user checks before trusting the relay with one. */
export async function sshHostKey(context: CommandContext, options: { json?: boolean; knownHosts?: boolean }): Promise<void> {
  const relay = await resolveRelay(context.relayFlag, context.env);
  const response = await send(`${relay}/v1/ssh/host-key`, {});
  if (!response.ok) throw await errorOf(response);
  const hostKey = (await response.json()) as SshHostKey;
  if (options.json) return context.output.out(json(hostKey));
  const host = new URL(relay).hostname;
  const port = hostKey.port ?? 22;
  if (options.knownHosts) return context.output.out(`${port === 22 ? host : `[${host}]:${port}`} ${printable(hostKey.publicKey)}\n`);
  context.output.out(printable(`${hostKey.fingerprint} (${hostKey.algorithm})${hostKey.port === null ? '  — this relay does not listen for SSH itself' : `  port ${hostKey.port}`}\n`, { newlines: true }));
}

/**
 * `lightsout ssh login`: a short-lived OpenSSH user certificate from the
 * relay's SSH CA for an Ed25519 key (made with ssh-keygen the first time,
 * in the CLI's config directory, unless --key names one), written where
 * OpenSSH looks for it: beside the key as `<key>-cert.pub`. The certificate
 * ends by itself (ssh.certificateTtlSeconds), so access ends when the
 * user's does; run it again after `lightsout login`.
 */
export async function sshLogin(context: CommandContext, options: { key?: string; json?: boolean }): Promise<void> {
  const key = options.key === undefined ? join(configDir(context.env), 'ssh', 'id_ed25519') : options.key.startsWith('~/') ? join(homedir(), options.key.slice(2)) : options.key;
  if (!existsSync(`${key}.pub`)) {
    if (options.key !== undefined) throw new LightsoutError('BAD_REQUEST', `${key}.pub does not exist`, { hint: 'name an Ed25519 private key whose .pub lies beside it, or leave out --key' });
    await mkdir(dirname(key), { recursive: true, mode: 0o700 });
    const made = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'lightsout ssh login', '-f', key], { encoding: 'utf8' });
    if (made.error !== undefined || made.status !== 0) throw new LightsoutError('INTERNAL', `ssh-keygen could not make ${key}: ${made.error?.message ?? made.stderr.trim()}`, { hint: 'install OpenSSH (ssh-keygen), or pass --key with an existing Ed25519 key' });
  }
  const publicKey = await readPublicKey(`${key}.pub`);
  const issued = await (await apiFor(context)).post<SshCertificate>('/v1/me/ssh-certificate', { publicKey });
  const certificatePath = `${key}-cert.pub`;
  await writeFile(certificatePath, `${issued.certificate}\n`, { mode: 0o644 });
  if (options.json) return context.output.out(json({ ...issued, key, certificatePath }));
  const relay = await resolveRelay(context.relayFlag, context.env);
  context.output.out(printable(`certificate for ${issued.principals.join(', ')} valid until ${issued.validBefore}: ${certificatePath}\n`, { newlines: true }));
  context.output.err(`connect with: ssh -i ${key} -p <port> <server>@${new URL(relay).hostname}   (lightsout ssh host-key shows the port)\n`);
}
