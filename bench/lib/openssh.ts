/**
 * Debian's OpenSSH client (`openssh-client`) as a user runs it against the
 * SSH front door: keys made by ssh-keygen, a known_hosts file of our own
 * (never ~/.ssh), and either a pty (`ssh -tt` under util-linux `script`) or
 * plain pipes (non-interactive). Every child is owned and stopped.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SshKeyFiles {
  privateKey: string;
  publicKey: string;
}

export function sshKeygen(directory: string, name: string, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519', bits?: number): SshKeyFiles {
  const privateKey = join(directory, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits === undefined ? [] : ['-b', String(bits)]), '-N', '', '-C', `${name}@test`, '-f', privateKey]);
  return { privateKey, publicKey: readFileSync(`${privateKey}.pub`, 'utf8').trim() };
}

/** `ssh-keygen -l` of a public key line: what users compare the relay's answer against. */
export function sshFingerprint(directory: string, publicKeyLine: string): string {
  const file = join(directory, `fingerprint-${Date.now()}-${Math.random().toString(36).slice(2)}.pub`);
  writeFileSync(file, `${publicKeyLine}\n`);
  return execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', file], { encoding: 'utf8' }).split(' ')[1]!;
}

export interface SshRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  write(text: string): void;
  /** The exit status (`ssh` passes on the remote one; 255 for its own failures). */
  exited: Promise<number | null>;
  kill(): void;
}

export interface SshTarget {
  port: number;
  knownHosts: string;
  key: SshKeyFiles;
}

function sshArguments(target: SshTarget, user: string, extra: string[]): string[] {
  return [
    '-F', '/dev/null',
    '-o', `UserKnownHostsFile=${target.knownHosts}`,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'IdentityAgent=none',
    '-o', 'BatchMode=yes',
    '-o', 'LogLevel=ERROR',
    '-i', target.key.privateKey,
    '-p', String(target.port),
    ...extra,
    `${user}@127.0.0.1`,
  ];
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function track(child: ChildProcess): SshRun {
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('latin1').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('latin1').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit').then(([code]) => {
    running.delete(child);
    return code as number | null;
  });
  return { child, stdout: () => stdout, stderr: () => stderr, write: (text) => void child.stdin!.write(text), exited, kill: () => void child.kill('SIGKILL') };
}

/** Non-interactive: no pty, stdin and stdout are pipes (what a script does); `command` asks for an exec instead of a shell. */
export function sshPiped(target: SshTarget, user: string, command: string[] = [], options: string[] = []): SshRun {
  return track(spawn('ssh', [...sshArguments(target, user, ['-T', ...options]), ...command], { stdio: ['pipe', 'pipe', 'pipe'] }));
}

/** Interactive: `ssh -tt` in a pty (util-linux `script`), as a person at a terminal; OpenSSH's own `~` escapes are live. */
export function sshInPty(target: SshTarget, user: string): SshRun {
  const command = ['ssh', ...sshArguments(target, user, ['-tt'])].map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' ');
  return track(spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] }));
}
