/**
 * sol-loss: host output through a lossy link, bytes lost. A bmcsim BMC with
 * its own fault injection (LOSS % loss and the same % reordering of every IPMI
 * datagram, both ways) — not the lab proxy, because ipmitool refuses a SOL
 * session whose Activate Payload answer names another port than the one it
 * dialled. The host writes BYTES of text; ours (SolHub) and
 * `ipmitool sol activate` (under a pty) each read it once, in the same run.
 * The loss-proxy test against ipmi_sim is in agent/src/ipmi/sol/sol.ipmi-sim.test.ts.
 *   npm run bench -- sol-loss [--loss 10] [--bytes 6144]
 */
import { parseArgs } from 'node:util';
import { startFleet } from '@lightsout/bmcsim';
import { openIpmiSession, SolHub, SolSession } from '@lightsout/agent/ipmi';
import * as ipmiWire from '@lightsout/bmc-wire/ipmi';

type RmcpPlusSessionLike = Parameters<typeof SolSession.owner>[0];
import { printResult, printTable } from './lib/report.js';
import { spawnOnTty } from './lib/tty-client.js';

const { values } = parseArgs({ options: { loss: { type: 'string', default: '10' }, bytes: { type: 'string', default: '6144' } } });
const size = Number(values.bytes);
// Only %, ^ and |: a pty turns \n into \r\n, and these never appear in the simulated host's boot log or prompt,
// so they can be picked out of whatever else the console shows.
const ALPHABET = '%^|';
const text = Buffer.from(Array.from({ length: size }, (_, index) => ALPHABET.charCodeAt((index * 7) % 3)));
const payloadOf = (output: string) => output.replace(/[^%^|]/g, '');
const QUIET_MS = 5000; // "done" = no new byte for this long (the lossy link's retransmits included)

const fleet = await startFleet({ count: 1, address: '127.0.0.1', ports: { ipmi: 0, web: 0, vnc: 0 }, tls: false, startPowered: true, faults: { udpLossPercent: Number(values.loss), udpReorderPercent: Number(values.loss) } });
const target = fleet.bmcs[0]!;
const writeHost = (bytes: Uint8Array) => target.bmc.host.writeConsole(bytes);
// Keyboard direction: what reaches the host's console input, recorded by wrapping Host.type (bench-only).
let typedAtHost = '';
const typeListeners = new Set<() => void>();
const hostType = target.bmc.host.type.bind(target.bmc.host);
target.bmc.host.type = (bytes: Uint8Array) => {
  typedAtHost += Buffer.from(bytes).toString('latin1');
  for (const listener of typeListeners) listener();
  hostType(bytes);
};
const INPUT = text.subarray(0, Math.min(1024, size)).toString('latin1');

/** Resolves when `count()` reaches `target` or stops growing for QUIET_MS. */
function settle(count: () => number, target: number, subscribe: (listener: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    let timer = setTimeout(resolve, QUIET_MS);
    subscribe(() => {
      clearTimeout(timer);
      if (count() >= target) resolve();
      else timer = setTimeout(resolve, QUIET_MS);
    });
  });
}

async function ours(): Promise<{ received: number; exact: boolean; seconds: number; typed: number }> {
  const hub = new SolHub({ openSession: () => openIpmiSession({ host: target.ipmi.host, port: target.ipmi.port, username: 'admin', password: 'adminpass', protocol: 'lanplus', cipherSuites: [3], timing: { handshakeAttempts: 10 } }) });
  const chunks: Uint8Array[] = [];
  const listeners = new Set<() => void>();
  try {
    const viewer = await hub.attach('bench', { mode: 'control' }, { onData: (bytes) => { chunks.push(bytes.slice()); for (const listener of listeners) listener(); } });
    const started = performance.now();
    const done = settle(() => payloadOf(Buffer.concat(chunks).toString('latin1')).length, size, (listener) => listeners.add(listener));
    writeHost(text);
    await done;
    const payload = payloadOf(Buffer.concat(chunks).toString('latin1'));
    const seconds = (performance.now() - started) / 1000;
    typedAtHost = '';
    const typed = settle(() => payloadOf(typedAtHost).length, INPUT.length, (listener) => typeListeners.add(listener));
    viewer.write(Buffer.from(INPUT, 'latin1'));
    await typed;
    typeListeners.clear();
    return { received: payload.length, exact: payload === text.toString('latin1'), seconds, typed: payloadOf(typedAtHost).length };
  } finally {
    await hub.close();
  }
}

/** Makes sure no earlier session still holds SOL (checked over the loss-free port), so both clients start alike. */
async function freeSol(): Promise<boolean> {
  const session = await openIpmiSession({ host: target.ipmi.host, port: target.ipmi.port, username: 'admin', password: 'adminpass', protocol: 'lanplus', cipherSuites: [3], timing: { handshakeAttempts: 10, requestRetries: 8 } });
  try {
    const owner = await SolSession.owner(session as RmcpPlusSessionLike);
    if (owner !== 0) await session.requestWithCode(ipmiWire.deactivatePayloadRequest(1, 1));
    return owner !== 0;
  } finally {
    await session.close();
  }
}

async function ipmitool(): Promise<{ received: number; seconds: number; typed: number; failure?: string }> {
  const command = `ipmitool -I lanplus -H ${target.ipmi.host} -p ${target.ipmi.port} -U admin -P adminpass -C 3 sol activate`;
  const client = spawnOnTty(command);
  const child = client.child;
  let output = '';
  const listeners = new Set<() => void>();
  const payloadCount = () => {
    const marker = output.indexOf('operational');
    if (marker < 0) return 0;
    const after = output.slice(output.indexOf('\n', marker) + 1);
    return payloadOf(after).length;
  };
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('latin1');
    for (const listener of listeners) listener();
  });
  try {
    const operational = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 60_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
      listeners.add(() => {
        if (output.includes('operational') && output.indexOf('\n', output.indexOf('operational')) >= 0) {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
    // ipmitool gives up on some losses (e.g. a lost Activate Payload answer): it then shows no host output at all.
    if (!operational) return { received: 0, seconds: 0, typed: 0, failure: output.trim().split('\n').slice(-2).join(' / ') };
    listeners.clear();
    const started = performance.now();
    const done = settle(payloadCount, size, (listener) => listeners.add(listener));
    writeHost(text);
    await done;
    const received = payloadCount();
    const seconds = (performance.now() - started) / 1000;
    typedAtHost = '';
    const typed = settle(() => payloadOf(typedAtHost).length, INPUT.length, (listener) => typeListeners.add(listener));
    child.stdin.write(INPUT);
    await typed;
    typeListeners.clear();
    return { received, seconds, typed: payloadOf(typedAtHost).length };
  } finally {
    await client.leave();
  }
}

try {
  const oursResult = await ours();
  // A user retries a console that does not come up: up to three ipmitool attempts, the first that runs counts.
  let ipmitoolResult: Awaited<ReturnType<typeof ipmitool>> = { received: 0, seconds: 0, typed: 0, failure: 'not run' };
  const failures: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await freeSol()) console.log('an earlier session still held SOL; deactivated it before ipmitool');
    ipmitoolResult = await ipmitool();
    if (ipmitoolResult.failure === undefined) break;
    failures.push(ipmitoolResult.failure);
  }
  printTable(`SOL through ${values.loss}% loss + ${values.loss}% reordering (bmcsim fault injection): ${size} bytes of host output, ${INPUT.length} typed bytes`, ['client', 'output received', 'output lost', 'output byte-exact', 'output seconds', 'typed bytes at host', 'typed lost'], [
    ['lightsout SolHub', oursResult.received, size - oursResult.received, oursResult.exact ? 'yes' : 'no', oursResult.seconds, oursResult.typed, INPUT.length - oursResult.typed],
    ['ipmitool sol activate', ipmitoolResult.received, size - ipmitoolResult.received, '-', ipmitoolResult.seconds, ipmitoolResult.typed, INPUT.length - ipmitoolResult.typed],
  ]);
  for (const failure of failures) console.log(`ipmitool attempt failed: ${failure}`);
  const lost = (result: { received: number; typed: number }) => size - result.received + INPUT.length - result.typed;
  printResult({ bench: 'sol-loss', metric: 'bytes lost (output + typed)', unit: 'bytes', better: 'lower', ours: lost(oursResult), baselines: { ipmitool: lost(ipmitoolResult) }, params: { loss: Number(values.loss), reorder: Number(values.loss), bytes: size, typedBytes: INPUT.length, oursTypedLost: INPUT.length - oursResult.typed, ipmitoolTypedLost: INPUT.length - ipmitoolResult.typed, oursExact: oursResult.exact, quietMs: QUIET_MS, ipmitoolFailedAttempts: failures.length } });
} finally {
  await fleet.stop();
}
