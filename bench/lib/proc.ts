import { readdirSync, readFileSync } from 'node:fs';

/**
 * What Linux says about a process (proc(5)): the benchmarks' one reader of
 * /proc/PID/stat, whose 14th and 15th fields are user and system time in
 * clock ticks (100 per second on Linux).
 */
const CLOCK_TICKS = 100;

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: the fields after it start past the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** A running process whose command line names a marker (a test's unique data directory). */
export interface NamedProcess {
  pid: number;
  argv: string;
}

/** Processes whose command line (/proc/PID/cmdline, NUL-separated) names `marker`. */
export function processesNaming(marker: string): NamedProcess[] {
  const found: NamedProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (argv.includes(marker)) found.push({ pid: Number(entry), argv });
    } catch {
      // exited while we looked
    }
  }
  return found;
}
