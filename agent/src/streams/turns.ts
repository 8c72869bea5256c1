import { createStreamTurns } from '@lightsout/shared';

/**
 * The agent process's read scheduler: every session leg (relay side) and
 * console port (BMC side) takes its turns in it, so a keystroke on one
 * server's console is read between bounded slices of another's bulk VNC.
 */
export const agentTurns = createStreamTurns(setImmediate);
