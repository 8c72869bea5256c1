/**
 * Summarises V8 CPU profiles (`node --cpu-prof`, one `.cpuprofile` per
 * process) over a window of the monotonic clock: CPU ms per process, and per
 * function its self time and total time (a function counted once per sample
 * it is on the stack of, however deep it recurses).
 *   tsx scripts/cpuprofile-summary.ts DIR [--window FROM_US TO_US] [--names '{"manager":1234,...}'] [--top 25] [--per N]
 * `--window` is what gateway-failover prints as "profile window"; `--names`
 * its pids, so each profile is named for the process it came from; `--per N`
 * also prints each process's CPU ms divided by N (e.g. per resumed console).
 * The profile file name holds the pid: CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const directory = args[0];
if (directory === undefined) throw new Error('usage: cpuprofile-summary DIR [--window FROM_US TO_US] [--names JSON] [--top N] [--per N]');
const option = (name: string) => {
  const index = args.indexOf(`--${name}`);
  return index === -1 ? undefined : args.slice(index + 1);
};
const window = option('window')?.slice(0, 2).map(Number) ?? [0, Number.POSITIVE_INFINITY];
const names = new Map(Object.entries(JSON.parse(option('names')?.[0] ?? '{}') as Record<string, number>).map(([name, pid]) => [String(pid), name]));
const top = Number(option('top')?.[0] ?? 25);
const per = option('per') === undefined ? undefined : Number(option('per')![0]);

/** A function as a row: its name and where it is (bundles make the line the only tell between same-named functions). */
function key(node: ProfileNode): string {
  const file = node.callFrame.url.replace(/^.*\/(node_modules\/)?/, '$1');
  return `${node.callFrame.functionName || '(anonymous)'} ${file}:${node.callFrame.lineNumber + 1}`;
}

for (const file of readdirSync(directory).filter((name) => name.endsWith('.cpuprofile')).sort()) {
  const [, , , pid, thread] = file.split('.');
  const profile = JSON.parse(readFileSync(join(directory, file), 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let busyUs = 0;
  let time = profile.startTime;
  for (let index = 0; index < profile.samples.length; index += 1) {
    time += profile.timeDeltas[index]!;
    // A sample stands for the time until the next one.
    const durationUs = profile.timeDeltas[index + 1] ?? 0;
    if (time < window[0]! || time > window[1]!) continue;
    const leaf = byId.get(profile.samples[index]!)!;
    if (leaf.callFrame.functionName === '(idle)') continue;
    busyUs += durationUs;
    self.set(key(leaf), (self.get(key(leaf)) ?? 0) + durationUs);
    const onStack = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) onStack.add(key(byId.get(id)!));
    for (const name of onStack) total.set(name, (total.get(name) ?? 0) + durationUs);
  }
  const label = `${names.get(pid!) ?? `pid ${pid}`}${thread === '0' ? '' : ` thread ${thread}`}`;
  console.log(`\n== ${label}: ${(busyUs / 1000).toFixed(0)} CPU ms in the window${per === undefined ? '' : `, ${(busyUs / 1000 / per).toFixed(2)} ms per unit`} (${file})`);
  if (busyUs === 0) continue;
  const rows = (map: Map<string, number>) =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => `  ${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / busyUs).toFixed(1).padStart(5)} %  ${name}`);
  console.log('self:');
  console.log(rows(self).join('\n'));
  console.log('total:');
  console.log(rows(total).join('\n'));
}
