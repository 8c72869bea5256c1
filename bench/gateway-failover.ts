/**
 * gateway-failover: N open SOL consoles on one gateway of a regional
 * deployment (processes: a manager and two gateways of one region on one
 * PostgreSQL, an agent with both gateways in its list, N simulated BMCs);
 * every host writes a numbered line to its console 10 times a second. The
 * gateway carrying the consoles is killed with SIGKILL. Per console: seconds
 * from the kill until it streams again (a line arrives through the other
 * gateway), and whether any line was lost or repeated.
 *   npm run bench -- gateway-failover [--consoles 200] [--kind sol|serial]
 * JSON: ours = p99 s until a console streams again; params.lost = bytes lost
 * (lines written but never received), params.repeated = bytes received twice.
 */
import { startFleet } from '@lightsout/bmcsim';
import { startPostgres } from '@lightsout/lab';
import { type StreamClient, routeLocator } from '@lightsout/shared';
import { type BenchResult, median, percentile, printResult, printTable } from './lib/report.js';
import { connect, createSession, flag } from './lib/stream-bench.js';
import { startStack } from './lib/stack.js';

const consoles = flag('consoles', 200);
const kindIndex = process.argv.indexOf('--kind');
const kind = kindIndex === -1 ? 'sol' : process.argv[kindIndex + 1]!;
if (kind !== 'sol' && kind !== 'serial') throw new Error('--kind is sol or serial');
const LINE_EVERY_MS = 100;
const RESUME_TIMEOUT_MS = 60_000;

/** One console as the benchmark sees it: what its host wrote, what its client got, when it came back. */
interface Probe {
  index: number;
  written: number;
  text: string;
  client?: StreamClient;
  /** Set by a reconnect after the kill; the first bytes after it mark the console streaming again. */
  dropped: boolean;
  resumedAt?: number;
  /** How the session ended, if it did (it must not). */
  closed?: string;
}

const lineOf = (index: number, seq: number) => `@${index}:${seq}#\r\n`;

const postgres = await startPostgres();
const fleet = await startFleet({ count: consoles, address: '127.0.0.1', ports: { ipmi: 0, web: 0, vnc: 0 }, tls: false, startPowered: true });
let stack: Awaited<ReturnType<typeof startStack>> | undefined;
let writer: NodeJS.Timeout | undefined;
try {
  stack = await startStack(
    fleet.agentConfig.servers.map((server) => ({ id: server.id, ...(kind === 'sol' ? { ipmi: server.ipmi } : { serial: server.serial }) })),
    {
      postgresUrl: postgres.url,
      relays: 3,
      agentRelays: [1, 2],
      roles: [{ role: 'manager' }, { role: 'gateway', region: 'eu-central' }, { role: 'gateway', region: 'eu-central' }],
      // The relay's default heartbeat (5 s, offline after 3 missed): the stack's 500 ms makes a starved agent flap
      // while 200 SOL sessions open, which is not what is measured here.
      relayAgents: { heartbeatIntervalMs: 5000 },
      agentCredentials: fleet.agentConfig.credentials,
      agentEnv: fleet.agentEnvironment,
    },
  );
  const probes: Probe[] = fleet.bmcs.map((_, index) => ({ index, written: 0, text: '', dropped: false }));
  const marker = /@(\d+):(\d+)#/g;
  // Open every console at the manager; each streams at the gateway holding the agent.
  let holder: string | undefined;
  for (let start = 0; start < consoles; start += 50) {
    await Promise.all(
      probes.slice(start, start + 50).map(async (probe) => {
        const session = await createSession(stack!, fleet.bmcs[probe.index]!.id, kind);
        holder ??= session.streamUrl.replace(/\/v1\/streams\/.*$/, '');
        probe.client = await connect(
          session,
          {
            locate: routeLocator(session.routeUrl!, (url, init) => fetch(url, init)),
            onData: (bytes) => {
              probe.text += Buffer.from(bytes).toString('latin1');
              if (probe.dropped && probe.resumedAt === undefined) probe.resumedAt = performance.now();
            },
            onState: (state) => {
              if (state === 'reconnecting') probe.dropped = true;
            },
            onClose: (code, reason) => (probe.closed = `${code} ${reason}`),
          },
          120_000,
        );
      }),
    );
  }
  const writeLines = () => {
    for (const probe of probes) fleet.bmcs[probe.index]!.bmc.host.writeConsole(Buffer.from(lineOf(probe.index, probe.written++), 'latin1'));
  };
  writer = setInterval(writeLines, LINE_EVERY_MS);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const gatewayIndex = stack.relayUrls.findIndex((url) => url.replace(/^http/, 'ws') === holder);
  if (gatewayIndex <= 0) throw new Error(`the consoles stream at ${holder}, not at a gateway of the stack`);
  const killedAt = performance.now();
  await stack.killRelay(gatewayIndex);
  const deadline = killedAt + RESUME_TIMEOUT_MS;
  // Bounded by the deadline.
  while (probes.some((probe) => probe.resumedAt === undefined) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  // Two more seconds of lines through the new gateway, then every line written must arrive.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  clearInterval(writer);
  writer = undefined;
  const settleBy = performance.now() + 15_000;
  const complete = (probe: Probe) => probe.text.includes(lineOf(probe.index, probe.written - 1).slice(0, -2));
  // Bounded by settleBy.
  while (probes.some((probe) => !complete(probe)) && performance.now() < settleBy) await new Promise((resolve) => setTimeout(resolve, 50));

  let lost = 0;
  let repeated = 0;
  const seconds: number[] = [];
  for (const probe of probes) {
    const seen = new Map<number, number>();
    let first = Number.POSITIVE_INFINITY;
    for (const match of probe.text.matchAll(marker)) {
      if (Number(match[1]) !== probe.index) continue;
      const seq = Number(match[2]);
      first = Math.min(first, seq);
      seen.set(seq, (seen.get(seq) ?? 0) + 1);
    }
    // Lines before the console was first attached are not the benchmark's; from the first one seen, every line counts.
    for (let seq = Number.isFinite(first) ? first : 0; seq < probe.written; seq += 1) {
      const count = seen.get(seq) ?? 0;
      if (count === 0) lost += lineOf(probe.index, seq).length;
      if (count > 1) repeated += (count - 1) * lineOf(probe.index, seq).length;
    }
    seconds.push(probe.resumedAt === undefined ? Number.POSITIVE_INFINITY : (probe.resumedAt - killedAt) / 1000);
  }
  const resumed = seconds.filter(Number.isFinite).length;
  const endings = new Map<string, number>();
  for (const probe of probes) if (probe.closed !== undefined) endings.set(probe.closed.slice(0, 80), (endings.get(probe.closed.slice(0, 80)) ?? 0) + 1);
  if (endings.size > 0) console.log(`sessions that ended: ${JSON.stringify(Object.fromEntries(endings))}`);
  const p99 = percentile(seconds, 99);
  printTable(`gateway-failover: ${consoles} ${kind} consoles, kill -9 of the gateway carrying them`, ['consoles', 'resumed', 'median s', 'p99 s', 'max s', 'bytes lost', 'bytes repeated'], [
    [consoles, resumed, median(seconds), p99, Math.max(...seconds), lost, repeated],
  ]);
  const result: BenchResult = {
    bench: 'gateway-failover',
    metric: 'seconds from kill -9 of a gateway until every console streams again through another (p99)',
    unit: 's',
    better: 'lower',
    ours: Number.isFinite(p99) ? Number(p99.toFixed(3)) : -1,
    baselines: {},
    params: { consoles, kind, resumed, ended: [...endings.values()].reduce((sum, count) => sum + count, 0), lost, repeated, median_s: Number(median(seconds).toFixed(3)), max_s: Number.isFinite(Math.max(...seconds)) ? Number(Math.max(...seconds).toFixed(3)) : -1 },
  };
  for (const probe of probes) probe.client?.close();
  printResult(result);
} finally {
  if (writer !== undefined) clearInterval(writer);
  await stack?.close();
  await fleet.stop();
  await postgres.stop();
}
