import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LightsoutError } from '@lightsout/shared';

/**
 * What `lightsout login` keeps between runs: per relay, the OIDC endpoints
 * and the tokens. The file holds bearer secrets, so it is 0600 in a 0700
 * directory whatever the umask says.
 */
export interface StoredSession {
  relay: string;
  issuer: string;
  clientId: string;
  audience: string;
  tokenEndpoint: string;
  accessToken: string;
  refreshToken?: string;
  /** Seconds since epoch. */
  expiresAt: number;
  username?: string;
}

export interface CredentialsFile {
  version: 1;
  /** The relay used when neither --relay nor LIGHTSOUT_RELAY names one. */
  current?: string;
  sessions: Record<string, StoredSession>;
}

export const CREDENTIALS_FILE = 'credentials.json';

export function configDir(env: NodeJS.ProcessEnv): string {
  if (env['LIGHTSOUT_CONFIG_DIR']) return env['LIGHTSOUT_CONFIG_DIR'];
  const base = env['XDG_CONFIG_HOME'] || join(homedir(), '.config');
  return join(base, 'lightsout');
}

export async function readCredentials(env: NodeJS.ProcessEnv): Promise<CredentialsFile> {
  const path = join(configDir(env), CREDENTIALS_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, sessions: {} };
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as CredentialsFile;
    if (parsed.version !== 1 || typeof parsed.sessions !== 'object' || parsed.sessions === null) throw new Error('unexpected shape');
    return parsed;
  } catch {
    throw new LightsoutError('UNAUTHENTICATED', `${path} is not a Lightsout credentials file`, { hint: 'run `lightsout logout` to remove it, then `lightsout login`' });
  }
}

export async function writeCredentials(env: NodeJS.ProcessEnv, file: CredentialsFile): Promise<void> {
  const directory = configDir(env);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const path = join(directory, CREDENTIALS_FILE);
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

export async function removeCredentials(env: NodeJS.ProcessEnv): Promise<void> {
  await rm(join(configDir(env), CREDENTIALS_FILE), { force: true });
}
