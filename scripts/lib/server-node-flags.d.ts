/** Node.js flags the relay and the agent are started with, wherever they are started. */
export const SERVER_NODE_FLAGS: readonly string[];
/** A program file's first line that starts node with `flags`. */
export function shebangFor(flags: readonly string[]): string;
