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
});
