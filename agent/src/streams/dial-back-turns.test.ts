import { afterEach, describe, expect, it } from 'vitest';
import type { ServerEntry } from '../config/types.js';
import { startStreamWorld } from '../testing/stream-world.js';
import type { ConsolePort } from './ports/types.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const server: ServerEntry = { id: 'sim-09', name: 'sim-09', tenant: 'demo', rack: 'r1', labels: {} };
const quietPort = async (): Promise<ConsolePort> => ({ write: () => true, sendBreak: () => undefined, pause: () => undefined, resume: () => undefined, close: () => undefined });

describe('the stream plane dials back in turns', () => {
  it('six consoles opened at once reach the relay two handshakes at a time, and every one attaches', async () => {
    const handshakes: Array<() => void> = [];
    let arrived: () => void = () => undefined;
    // Each dial-back signs its token as it starts: every console past its BMC side signs at once without turns.
    let tokensSigned = 0;
    const world = await startStreamWorld(server, quietPort, {
      dialBackConcurrency: 2,
      signJwt: async () => `agent-jwt-${++tokensSigned}`,
      onDialBack: (accept) => {
        handshakes.push(accept);
        arrived();
      },
    });
    cleanups.push(world.stop);
    const opened = Array.from({ length: 6 }, (_, index) => world.open(`session-in-turns-${index}`));
    // An open that fails ends the wait with its error instead of a timeout.
    const anyFailure = Promise.all(opened).then(() => undefined);
    const handshakesReach = (count: number) =>
      Promise.race([
        new Promise<void>((resolve) => {
          arrived = () => handshakes.length >= count && resolve();
          arrived();
        }),
        anyFailure,
      ]);
    await handshakesReach(2);
    let accepted = 0;
    while (accepted < 6) {
      // Only the two in their turn have started and reached the relay; the next starts when one is accepted.
      expect(tokensSigned).toBe(Math.min(accepted + 2, 6));
      expect(handshakes.length).toBe(Math.min(accepted + 2, 6));
      handshakes[accepted]!();
      accepted += 1;
      if (accepted + 2 <= 6) await handshakesReach(accepted + 2);
    }
    await Promise.all(opened);
    expect(world.legs).toHaveLength(6);
  });

  it('drops a dial-back still waiting its turn when the relay stops waiting for it, and never dials it', async () => {
    const handshakes: Array<() => void> = [];
    let tokensSigned = 0;
    const world = await startStreamWorld(server, quietPort, {
      dialBackConcurrency: 1,
      signJwt: async () => `agent-jwt-${++tokensSigned}`,
      onDialBack: (accept) => handshakes.push(accept),
    });
    cleanups.push(world.stop);
    // The first holds the only turn (no deadline); the second's relay waits 400 ms for it (the agent gives up at 360).
    const first = world.open('session-turn-holder');
    const late = world.open('session-turn-gave-up', {}, 400);
    await expect(late).rejects.toMatchObject({ code: 'AGENT_TIMEOUT', message: 'stream.open did not finish within 360 ms' });
    expect(handshakes).toHaveLength(1);
    // The turn comes free only now: the given-up dial-back is not made, and the next open gets the turn at once.
    handshakes[0]!();
    await first;
    const next = world.open('session-turn-next');
    await new Promise<void>((resolve) => {
      const poll = () => (handshakes.length === 2 ? resolve() : setImmediate(poll));
      poll();
    });
    handshakes[1]!();
    await next;
    expect(tokensSigned).toBe(2);
    expect(world.legs).toHaveLength(2);
  });
});
