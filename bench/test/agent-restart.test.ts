import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { type SessionCreated, StreamClient } from '@lightsout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleFleet, startConsoleFleet } from '../lib/console-fleet.js';
import { until } from '../lib/processes.js';
import { createSession } from '../lib/stream-bench.js';
import { type Stack, startStack } from '../lib/stack.js';
import { nodeSocketFactory, setTimer } from '../lib/stream-socket.js';

/**
 * kill -9 of the agent (a real process) with N SOL consoles open on N
 * simulated BMCs, then the agent started again. The dead agent's IPMI
 * sessions still hold SOL on every BMC: the new one must take it over at
 * once (no BMC_BUSY window), so a console opened after the restart types
 * and sees its echo within 10 s of the new agent being connected again. (The
 * time from spawning the process to it being connected is printed too: on a
 * loaded machine the agent's start alone took 10-20 s.) Nothing typed is silently
 * dropped: every token a console accepted is echoed by the host, or reported
 * refused, or its session ended visibly; once the client heard the path was
 * down it accepts nothing.
 */
/** CI opens 10; LIGHTSOUT_AGENT_RESTART_CONSOLES=100 is the issue's size (25 at load 21: every console back, no BMC_BUSY, but the last 14.8 s after the agent reconnected). */
const CONSOLES = Number(process.env['LIGHTSOUT_AGENT_RESTART_CONSOLES'] ?? 10);

interface Console {
  serverId: string;
  client?: StreamClient;
  output: string;
  /** Tokens the client accepted (written while it said the path was up). */
  accepted: string[];
  refusedBytes: number;
  closed?: number;
  /** Why the last leg failed, as the client heard it. */
  why?: string;
}

/** A token and ^C: the host's shell echoes it and clears its line, whatever it was doing. */
const token = (index: number, seq: number) => `k${index}x${seq}`;

function open(session: SessionCreated, into: Console): StreamClient {
  return new StreamClient({
    streamUrl: session.streamUrl,
    token: session.token,
    socket: nodeSocketFactory(),
    setTimer,
    refuseInputWhileDown: true,
    onData: (bytes) => (into.output += Buffer.from(bytes).toString('latin1')),
    onInputRefused: (bytes) => (into.refusedBytes += bytes),
    onClose: (code) => (into.closed = code),
    onState: (state, detail) => {
      if (state === 'reconnecting' && detail !== undefined) into.why = detail;
    },
  });
}

function type(entry: Console, text: string): void {
  if (entry.client === undefined || entry.closed !== undefined) return;
  const refusedBefore = entry.refusedBytes;
  const wasUp = entry.client.inputPathUp;
  entry.client.write(Buffer.from(`${text}\x03`, 'latin1'));
  if (entry.refusedBytes === refusedBefore) {
    // Accepted: it must have been accepted while the path was up.
    expect(wasUp, `${entry.serverId}: ${text} accepted while the client knew the path was down`).toBe(true);
    entry.accepted.push(text);
  }
}

describe(`kill -9 of the agent with ${CONSOLES} SOL consoles open`, () => {
  let fleet: ConsoleFleet;
  let stack: Stack;

  beforeAll(async () => {
    fleet = await startConsoleFleet(CONSOLES);
    stack = await startStack(
      fleet.servers.map((server) => ({ id: server.id, ipmi: server.ipmi })),
      { agentCredentials: fleet.credentials, agentEnv: fleet.environment, registerTimeoutMs: 180_000 },
    );
  }, 300_000);
  afterAll(async () => {
    await stack?.close();
    await fleet?.stop();
  });

  it('consoles are usable again within 10 s of the restart (no BMC_BUSY), and no typed token is silently dropped', { timeout: 400_000 }, async () => {
    const consoles: Console[] = fleet.servers.map((server) => ({ serverId: server.id, output: '', accepted: [], refusedBytes: 0 }));
    for (let start = 0; start < consoles.length; start += 25) {
      await Promise.all(
        consoles.slice(start, start + 25).map(async (entry) => {
          entry.client = open(await createSession(stack, entry.serverId, 'sol'), entry);
          await until(() => entry.client!.inputPathUp || entry.closed !== undefined, 60_000, `${entry.serverId} streaming`);
        }),
      );
    }
    consoles.forEach((entry, index) => type(entry, token(index, 0)));
    await until(() => consoles.every((entry) => entry.output.includes(token(consoles.indexOf(entry), 0))), 60_000, 'every console to echo its first token');

    const killedAt = performance.now();
    await stack.killAgent();
    // Typing on while the agent is dead: each token is refused, or accepted only while the client still believed the path up.
    for (let seq = 1; seq <= 5; seq += 1) {
      consoles.forEach((entry, index) => type(entry, token(index, seq)));
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const startedAt = performance.now();
    stack.startAgent();
    // New consoles on every server, typed into as soon as they stream: usable within 10 s of the restart.
    const fresh: Console[] = consoles.map((entry) => ({ serverId: entry.serverId, output: '', accepted: [], refusedBytes: 0 }));
    const usableAt = new Map<string, number>();
    /** What happened to each new console and when (ms after the restart), printed when it is late. */
    const marks: string[] = [];
    const failures: string[] = [];
    // When the relay has the new agent again (every server online): the restart, as consoles can tell.
    let onlineAt: number | undefined;
    const online = (async () => {
      // Bounded: 120 s.
      while (onlineAt === undefined && performance.now() - startedAt < 120_000) {
        const response = await fetch(`${stack.relayUrl}/v1/servers`, { headers: { authorization: `Bearer ${stack.adminToken}` } }).catch(() => undefined);
        const body = response?.ok === true ? ((await response.json()) as { servers: Array<{ agent: string }> }) : undefined;
        if (body !== undefined && body.servers.length >= CONSOLES && body.servers.every((server) => server.agent === 'online')) onlineAt = performance.now() - startedAt;
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    // Meanwhile the old sessions, which died with the agent: each console must be told (a final close), none left hanging.
    const oldTold = until(() => consoles.every((entry) => entry.closed !== undefined), 60_000, () => `every old console to be told its session ended (${consoles.filter((entry) => entry.closed === undefined).length} not yet)`);
    await Promise.all(
      fresh.map(async (entry, index) => {
        // Bounded: 60 s from the restart (the assertion below wants 10 from the agent being back), then it says which failed.
        while (performance.now() - startedAt < 60_000 && !usableAt.has(entry.serverId)) {
          let session: SessionCreated;
          try {
            session = await createSession(stack, entry.serverId, 'sol');
          } catch (error) {
            // The agent is not registered yet (AGENT_OFFLINE): ask again.
            if (!String(error).includes('AGENT_OFFLINE')) failures.push(`${entry.serverId}: ${String(error).slice(0, 200)}`);
            await new Promise((resolve) => setTimeout(resolve, 100));
            continue;
          }
          const previous = entry.client;
          entry.client = undefined;
          previous?.close();
          entry.closed = undefined;
          entry.client = open(session, entry);
          marks.push(`${entry.serverId} session ${(performance.now() - startedAt).toFixed(0)}`);
          await until(() => entry.client!.inputPathUp || entry.closed !== undefined, 10_000, `${entry.serverId} streaming`).catch(() => undefined);
          marks.push(`${entry.serverId} ${entry.client.inputPathUp ? 'streaming' : `not streaming (${entry.client.state}: ${entry.why}, closed ${entry.closed})`} ${(performance.now() - startedAt).toFixed(0)}`);
          if (entry.closed !== undefined) {
            failures.push(`${entry.serverId}: closed ${entry.closed}`);
            continue;
          }
          type(entry, token(index, 99));
          await until(() => entry.output.includes(token(index, 99)) || entry.closed !== undefined, 10_000, `${entry.serverId} echo`).catch(() => undefined);
          if (entry.output.includes(token(index, 99))) usableAt.set(entry.serverId, performance.now() - startedAt);
        }
      }),
    );
    await oldTold;
    await online;
    const slowest = Math.max(...usableAt.values()) - (onlineAt ?? Number.NaN);
    console.log(`agent killed ${(startedAt - killedAt).toFixed(0)} ms before its restart; ${usableAt.size}/${CONSOLES} consoles usable again; the agent connected ${onlineAt?.toFixed(0)} ms after its process started, the last console usable ${slowest.toFixed(0)} ms after that; load average ${loadavg()[0]!.toFixed(1)}; old consoles closed with ${JSON.stringify(Object.fromEntries(consoles.map((entry) => [entry.closed, consoles.filter((other) => other.closed === entry.closed).length])))}`);
    if (usableAt.size < CONSOLES || slowest >= 10_000) console.log(marks.join('\n'));
    // No BMC_BUSY (a 4502 close) nor any other refusal, and every server back within 10 s.
    expect(failures).toEqual([]);
    expect(usableAt.size).toBe(CONSOLES);
    expect(slowest).toBeLessThan(10_000);

    // Every token an old console accepted was echoed, or its session ended visibly (a final close it was told of).
    for (const [index, entry] of consoles.entries()) {
      const lost = entry.accepted.filter((text) => !entry.output.includes(text));
      if (lost.length > 0) expect(entry.closed, `${entry.serverId}: ${lost.join(',')} accepted, never echoed, and the console was not told`).toBeDefined();
      expect(entry.output.includes(token(index, 0))).toBe(true);
    }
    for (const entry of fresh) entry.client?.close();
  });
});
