import { chmod, link, mkdir, open, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname, homedir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
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
/** Beside the credentials: held while one run reads, renews and writes them. */
export const CREDENTIALS_LOCK_FILE = 'credentials.json.lock';

/**
 * A lock this old is abandoned whatever its holder looks like (a holder on
 * another host sharing the directory, a reused pid). Longer than a holder
 * ever keeps it: a renewal gives up after REFRESH_TIMEOUT_MS (auth/session.ts).
 */
export const LOCK_STALE_MS = 30_000;
/** Longer than LOCK_STALE_MS, so an abandoned lock is always taken over within one wait. */
const LOCK_WAIT_MS = 35_000;
const LOCK_POLL_MS = 25;

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

interface LockHolder {
  pid: number;
  host: string;
  /** Tells this holder's lock from a later one at the same path. */
  nonce: string;
}

/**
 * Runs `action` while holding the credentials lock, so that runs of
 * `lightsout` at the same time read → renew → write one after the other:
 * an issuer that rotates refresh tokens revokes the whole grant when one is
 * presented twice (RFC 9700 §4.14.2), so two runs renewing with the same
 * token would log the user out. The lock is a file created with O_EXCL
 * naming its holder; one whose holder has exited (same host) or that is
 * older than LOCK_STALE_MS is taken over. CONFLICT when it stays held
 * longer than `waitMs`.
 */
export async function withCredentialsLock<T>(env: NodeJS.ProcessEnv, action: () => Promise<T>, options: { waitMs?: number } = {}): Promise<T> {
  const directory = configDir(env);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const path = join(directory, CREDENTIALS_LOCK_FILE);
  const holder: LockHolder = { pid: process.pid, host: hostname(), nonce: randomBytes(12).toString('hex') };
  const deadline = Date.now() + (options.waitMs ?? LOCK_WAIT_MS);
  while (!(await tryLock(path, holder))) {
    if (Date.now() >= deadline) {
      throw new LightsoutError('CONFLICT', `another lightsout run holds ${path}`, { hint: 'wait for it to finish and run the command again; delete the file if no lightsout is running', details: { lock: path } });
    }
    await delay(LOCK_POLL_MS);
  }
  try {
    return await action();
  } finally {
    // Only our own: a lock taken over from us (we were too slow) belongs to its new holder.
    if ((await readHolder(path))?.nonce === holder.nonce) await rm(path, { force: true });
  }
}

async function tryLock(path: string, holder: LockHolder): Promise<boolean> {
  try {
    const handle = await open(path, 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify(holder));
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const current = await readHolder(path);
  const modified = await stat(path).then(
    (info) => info.mtimeMs,
    () => undefined,
  );
  // Gone meanwhile: try again at once.
  if (modified === undefined) return false;
  const abandoned = Date.now() - modified > LOCK_STALE_MS || (current !== undefined && current.host === holder.host && !processAlive(current.pid));
  if (abandoned) await takeOver(path, current);
  return false;
}

/**
 * Moves the abandoned lock aside (rename is atomic: of several runs taking
 * over, one moves it) and checks it moved the lock it judged; a fresh lock
 * created in between is put back (link fails rather than overwrite).
 */
async function takeOver(path: string, judged: LockHolder | undefined): Promise<void> {
  const aside = `${path}.${randomBytes(6).toString('hex')}.stale`;
  try {
    await rename(path, aside);
  } catch {
    return;
  }
  const moved = await readHolder(aside);
  if (moved?.nonce !== judged?.nonce) await link(aside, path).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockHolder>;
    return typeof parsed.pid === 'number' && typeof parsed.host === 'string' && typeof parsed.nonce === 'string' ? (parsed as LockHolder) : undefined;
  } catch {
    // missing, or created and not written yet: judged by its age alone
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is someone else's
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
