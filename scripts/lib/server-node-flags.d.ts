/** Node.js flags the relay and the agent are started with, wherever they are started. */
export const SERVER_NODE_FLAGS: readonly string[];
