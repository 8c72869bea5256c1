import { setTimeout as delay } from 'node:timers/promises';
import { createInterface } from 'node:readline/promises';
import { type BulkAccepted, type BulkJobView, type BulkOperation, type BulkSelector, LightsoutError, type PowerState } from '@lightsout/shared';
import { ExitCode } from '../exit-codes.js';
import { json, table } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

/** The selector flags every bulk-capable command takes (`power`, `boot`). */
export interface SelectorOptions {
  selector?: string;
  ids?: string;
  rack?: string;
  datacenter?: string;
  region?: string;
  powerState?: string;
  yes?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

const POLL_MS = 500;
/** Bounded: the relay settles every server by its own deadlines (a soft off: 5 min). */
const FOLLOW_LIMIT_MS = 15 * 60_000;
const BAR_WIDTH = 30;

/** Whether the command line names servers by selector (a bulk job) rather than one server id. */
export function isBulk(options: SelectorOptions): boolean {
  return [options.selector, options.ids, options.rack, options.datacenter, options.region, options.powerState].some((value) => value !== undefined);
}

/** `--selector role=web,tier=1 --rack r1 …` as the relay's selector; BAD_REQUEST for a malformed pair. */
export function selectorOf(options: SelectorOptions): BulkSelector {
  const selector: BulkSelector = {};
  if (options.selector !== undefined) {
    const labels: Record<string, string> = {};
    for (const pair of options.selector.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')) {
      const equals = pair.indexOf('=');
      if (equals <= 0) throw new LightsoutError('BAD_REQUEST', `--selector: "${pair}" is not key=value`, { hint: 'e.g. --selector role=web,tier=front' });
      labels[pair.slice(0, equals)] = pair.slice(equals + 1);
    }
    selector.labels = labels;
  }
  if (options.ids !== undefined) selector.ids = options.ids.split(',').map((id) => id.trim()).filter((id) => id !== '');
  if (options.rack !== undefined) selector.rack = options.rack;
  if (options.datacenter !== undefined) selector.datacenter = options.datacenter;
  if (options.region !== undefined) selector.region = options.region;
  if (options.powerState !== undefined) {
    if (!['on', 'off', 'unknown'].includes(options.powerState)) throw new LightsoutError('BAD_REQUEST', `--power-state must be on, off or unknown, not ${options.powerState}`);
    selector.power = options.powerState as PowerState;
  }
  return selector;
}

/** Asks on the terminal; false when there is none (a script must say --yes). */
async function askYesNo(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim());
  } finally {
    prompt.close();
  }
}

function bar(done: number, total: number, failed: number): string {
  const filled = total === 0 ? BAR_WIDTH : Math.round((done / total) * BAR_WIDTH);
  return `\r[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total}${failed > 0 ? ` (${failed} failed)` : ''}`;
}

/**
 * One operation on every server a selector names, as one relay job: dry run
 * first (the resolved count), confirmation (`--yes` skips it; without a
 * terminal it is required), then the job, a progress bar on stderr while it
 * runs, and a per-server table (or the job as JSON). Exit 0 only when every
 * server succeeded; BULK_FAILED when any did not.
 */
export async function runBulk(context: CommandContext, operation: BulkOperation, what: string, options: SelectorOptions): Promise<void> {
  const api = await apiFor(context);
  const selector = selectorOf(options);
  const dry = await api.post<BulkAccepted>('/v1/bulk', { selector, operation, dryRun: true });
  if (options.dryRun) {
    context.output.out(options.json ? json(dry) : table(['server', 'name', 'rack', 'datacenter', 'power'], (dry.servers ?? []).map((server) => [server.id, server.name, server.rack, server.datacenter, server.power])));
    return;
  }
  if (dry.total === 0) throw new LightsoutError('NOT_FOUND', 'no server you may reach matches the selector');
  context.output.err(`${what}: ${dry.total} server${dry.total === 1 ? '' : 's'}\n`);
  const confirm = context.confirm ?? askYesNo;
  if (options.yes !== true && !(await confirm(`${what} on ${dry.total} server${dry.total === 1 ? '' : 's'}?`))) {
    throw new LightsoutError('BAD_REQUEST', 'not confirmed: nothing was done', { hint: 'answer y at the prompt, or pass --yes in scripts' });
  }
  const accepted = await api.post<BulkAccepted>('/v1/bulk', { selector, operation });
  const jobId = accepted.jobId!;
  const drawing = !options.json && context.output.interactive === true;
  let view: BulkJobView | undefined;
  for (const started = Date.now(); Date.now() - started < FOLLOW_LIMIT_MS; ) {
    view = await api.get<BulkJobView>(`/v1/bulk/${encodeURIComponent(jobId)}`);
    if (drawing) context.output.err(bar(view.results.length, view.total, view.failed));
    if (view.state === 'finished') break;
    await delay(POLL_MS);
  }
  if (drawing) context.output.err('\n');
  if (view === undefined || view.state !== 'finished') throw new LightsoutError('AGENT_TIMEOUT', `bulk job ${jobId} has not finished`, { hint: `the relay keeps running it; its results: GET /v1/bulk/${jobId}` });
  if (options.json) {
    context.output.out(json(view));
  } else {
    const rows = [...view.results].sort((left, right) => left.serverId.localeCompare(right.serverId)).map((result) => [result.serverId, result.ok ? 'ok' : (result.code ?? 'failed'), result.seconds.toFixed(1), result.ok ? '' : (result.message ?? '')]);
    context.output.out(table(['server', 'result', 'seconds', 'message'], rows));
    context.output.out(`${what}: ${view.succeeded} of ${view.total} succeeded${view.failed > 0 ? `, ${view.failed} failed` : ''}\n`);
  }
  if (view.failed > 0) context.exitCode = ExitCode.BULK_FAILED;
}
