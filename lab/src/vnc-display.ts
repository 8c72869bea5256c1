import { existsSync } from 'node:fs';
import { open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';

/** Display numbers we try; high enough to stay clear of a developer's :0/:1 and the lab's :51. */
const FIRST_DISPLAY = 200;
const DISPLAY_COUNT = 800;
const ATTEMPTS = 40;

export interface DisplayReservation {
  readonly display: number;
  /** Records the X server's pid in the lock, so the lock stays valid while it runs. */
  adopt(pid: number): Promise<void>;
  /** Removes the lock if it is still ours. Idempotent. */
  release(): Promise<void>;
}

function lockPath(display: number): string {
  return `/tmp/.X${display}-lock`;
}

function lockContent(pid: number): string {
  // The X server's own lock format: the pid right-aligned in 10 characters.
  return `${String(pid).padStart(10)}\n`;
}

/**
 * Reserves a free X display number for a server started with `-displayfd`
 * and an explicit display. Xvfb/Xvnc skip their own lock file in that mode,
 * so we take it for them: the standard /tmp/.X<n>-lock, created with O_EXCL
 * so two tests in parallel cannot get the same number, and honoured by any
 * other X server on the machine. A number whose socket /tmp/.X11-unix/X<n>
 * exists is in use even without a lock.
 */
export async function reserveDisplay(): Promise<DisplayReservation> {
  const start = FIRST_DISPLAY + Math.floor(Math.random() * DISPLAY_COUNT);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const display = FIRST_DISPLAY + ((start - FIRST_DISPLAY + attempt * 7) % DISPLAY_COUNT);
    if (existsSync(`/tmp/.X11-unix/X${display}`)) continue;
    let handle;
    try {
      handle = await open(lockPath(display), 'wx', 0o444);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      await removeIfStale(display);
      continue;
    }
    await handle.writeFile(lockContent(process.pid));
    await handle.close();
    // The socket may have appeared between the check and the lock (a server
    // that ignores locks): give the number back and try another.
    if (existsSync(`/tmp/.X11-unix/X${display}`)) {
      await unlink(lockPath(display));
      continue;
    }
    return makeReservation(display);
  }
  throw new Error(`no free X display number after ${ATTEMPTS} attempts in :${FIRST_DISPLAY}–:${FIRST_DISPLAY + DISPLAY_COUNT - 1}`);
}

const STALE_AFTER_MS = 60_000;

/**
 * A lock whose pid is gone is stale (an X server that was killed, or a
 * test process killed between reserving and starting). Like X itself, we
 * remove it — but only when it is also old, so a lock another process has
 * just replaced is never taken for the stale one it replaced. The number is
 * not used in this attempt either way; a later reservation may take it.
 */
async function removeIfStale(display: number): Promise<void> {
  try {
    const [content, info] = await Promise.all([readFile(lockPath(display), 'utf8'), stat(lockPath(display))]);
    const pid = Number(content.trim());
    if (!Number.isInteger(pid) || pid <= 0 || Date.now() - info.mtimeMs < STALE_AFTER_MS) return;
    try {
      process.kill(pid, 0);
      return; // alive (or not ours to signal): in use
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') return;
    }
    if (!existsSync(`/tmp/.X11-unix/X${display}`)) await unlink(lockPath(display));
  } catch (error) {
    // Vanished or unreadable meanwhile: someone else is handling it.
    if (!['ENOENT', 'EACCES', 'EPERM'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  }
}

function makeReservation(display: number): DisplayReservation {
  let owner = process.pid;
  let released = false;
  return {
    display,
    async adopt(pid) {
      // rename() replaces the lock atomically: there is no moment without one.
      const staging = `${lockPath(display)}.${process.pid}.tmp`;
      await writeFile(staging, lockContent(pid), { mode: 0o444 });
      await rename(staging, lockPath(display));
      owner = pid;
    },
    async release() {
      if (released) return;
      released = true;
      try {
        const content = await readFile(lockPath(display), 'utf8');
        if (Number(content.trim()) === owner) await unlink(lockPath(display));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    },
  };
}
