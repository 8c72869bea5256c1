import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LightsoutError } from '@lightsout/shared';

/**
 * The agent's state directory: its private key and the identity the relay
 * gave it at enrollment. Both files are secrets-adjacent (the key is the
 * agent's credential), so the directory is 0700 and the files 0600 whatever
 * the umask says.
 */
export const KEY_FILE = 'agent-key.jwk.json';
export const IDENTITY_FILE = 'identity.json';

export interface AgentIdentity {
  agentId: string;
  region: string;
  datacenter: string;
  audience: string;
  /** The relay the agent enrolled through; the identity is good on every relay of that deployment (same store). */
  relay: string;
}

export async function ensureStateDir(stateDir: string): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await chmod(stateDir, 0o700);
}

/** Write-then-rename so a crash never leaves half a key behind. */
export async function writePrivateFile(path: string, contents: string): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, contents, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new LightsoutError('CONFIG_INVALID', `${path} is not valid JSON`, { hint: 'restore it from a backup, or delete the state directory and enroll again with a new join token' });
  }
}

function isIdentity(value: unknown): value is AgentIdentity {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return ['agentId', 'region', 'datacenter', 'audience', 'relay'].every((key) => typeof record[key] === 'string');
}

export async function readIdentity(stateDir: string): Promise<AgentIdentity | undefined> {
  const value = await readJsonFile(join(stateDir, IDENTITY_FILE));
  if (value === undefined) return undefined;
  if (!isIdentity(value)) {
    throw new LightsoutError('CONFIG_INVALID', `${join(stateDir, IDENTITY_FILE)} is not an agent identity`, { hint: 'delete the state directory and enroll again with a new join token' });
  }
  return value;
}

export async function writeIdentity(stateDir: string, identity: AgentIdentity): Promise<void> {
  await writePrivateFile(join(stateDir, IDENTITY_FILE), `${JSON.stringify(identity, null, 2)}\n`);
}
