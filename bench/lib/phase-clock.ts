import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/**
 * Wall time and CPU time per process between named marks of one run. On a
 * shared, loaded machine the wall clock says mostly how long a process
 * waited for a core; the CPU seconds each process spent in a phase are what
 * that phase costs (proc(5): utime + stime of /proc/PID/stat).
 *
 * A process is a pid getter (undefined before it exists or once it is gone:
 * it counts nothing then) or `self`, this process (process.cpuUsage). A
 * child that has exited is read from this process's `cutime + cstime`
 * (the CPU of children it has waited for) by the caller, see `childrenCpuSeconds`.
 */
export type CpuSource = (() => number | undefined) | 'self';

export interface PhaseMark {
  name: string;
  at: number;
  cpu: Record<string, number | undefined>;
}

export interface Phase {
  name: string;
  wallSeconds: number;
  /** CPU seconds per process in this phase; undefined where the process did not exist at both marks. */
  cpuSeconds: Record<string, number | undefined>;
}

const TICKS_PER_SECOND = clockTicks();

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** Fields after the command name in /proc/PID/stat (which may hold spaces and parentheses): index 0 is field 3, `state`. */
function statFields(path: string): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of a live process, in seconds; undefined when it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  const fields = statFields(`/proc/${pid}/stat`);
  if (!fields) return undefined;
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** CPU seconds of this process's children that have exited and been waited for (cutime + cstime). */
export function childrenCpuSeconds(): number {
  const fields = statFields('/proc/self/stat')!;
  return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND;
}

function ownCpuSeconds(): number {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1e6;
}

export class PhaseClock {
  readonly marks: PhaseMark[] = [];

  constructor(private readonly sources: Record<string, CpuSource>) {}

  /** Records `name` now; the phase it ends is the one since the previous mark, and it is named by this mark. */
  mark(name: string): void {
    if (this.marks.some((mark) => mark.name === name)) return;
    const cpu: Record<string, number | undefined> = {};
    for (const [process, source] of Object.entries(this.sources)) {
      if (source === 'self') cpu[process] = ownCpuSeconds();
      else {
        const pid = source();
        cpu[process] = pid === undefined ? undefined : processCpuSeconds(pid);
      }
    }
    this.marks.push({ name, at: performance.now(), cpu });
  }

  /** Sets what a process had used at mark `name`, for one read later (a child's total once it has exited). */
  amend(name: string, process: string, cpuSeconds: number): void {
    const mark = this.marks.find((candidate) => candidate.name === name);
    if (mark) mark.cpu[process] = cpuSeconds;
  }

  /** The phases between consecutive marks, each named by the mark that ends it, in order of time. */
  phases(): Phase[] {
    const marks = [...this.marks].sort((a, b) => a.at - b.at);
    return marks.slice(1).map((mark, index) => {
      const previous = marks[index]!;
      const cpuSeconds: Record<string, number | undefined> = {};
      for (const process of Object.keys(this.sources)) {
        const before = previous.cpu[process];
        const after = mark.cpu[process];
        cpuSeconds[process] = before === undefined || after === undefined ? undefined : Math.max(0, after - before);
      }
      return { name: mark.name, wallSeconds: (mark.at - previous.at) / 1000, cpuSeconds };
    });
  }
}
