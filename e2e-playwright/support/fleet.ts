import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Started } from './processes.js';

export interface Fleet {
  processes: Started[];
  /** Why no fleet was started (a piece of the stack is not there yet), or null when it runs. */
  unavailable: string | null;
}

/** Simulated BMCs + an enrolled agent. Filled in as bmcsim and the agent land. */
export async function startFleet(options: { repo: string; relayUrl: string; dataDir: string; logs: string; password: string }): Promise<Fleet> {
  if (!existsSync(join(options.repo, 'bmcsim/bin/bmcsim.js'))) return { processes: [], unavailable: 'bmcsim/bin/bmcsim.js does not exist yet' };
  return { processes: [], unavailable: 'fleet start not written yet' };
}
