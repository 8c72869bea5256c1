import { RelayApi } from '../api.js';
import { resolveRelay, tokenSourceFor } from '../auth/session.js';
import type { Output } from '../output.js';

/** What every command gets: the environment, where to print, and the global --relay. */
export interface CommandContext {
  env: NodeJS.ProcessEnv;
  output: Output;
  relayFlag: string | undefined;
}

export async function apiFor(context: CommandContext): Promise<RelayApi> {
  const relay = await resolveRelay(context.relayFlag, context.env);
  return new RelayApi(relay, tokenSourceFor(relay, context.env));
}
