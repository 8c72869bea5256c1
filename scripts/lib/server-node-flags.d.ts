/** Node.js flags the relay and the agent are started with, wherever they are started. */
export const SERVER_NODE_FLAGS: readonly string[];
/** glibc malloc settings (`GLIBC_TUNABLES`) the relay, the agent and the CLI are started with. */
export const SERVER_MALLOC_TUNABLES: string;
/** The environment a server process is started with, over `env`: the malloc settings first, the operator's own after. */
export function serverEnv(env?: NodeJS.ProcessEnv | Record<string, string | undefined>): { GLIBC_TUNABLES: string };
/** A program file's first line that starts node with `flags`, and with the malloc settings `tunables` when given. */
export function shebangFor(flags: readonly string[], tunables?: string): string;
