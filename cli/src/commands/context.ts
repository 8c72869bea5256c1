import { RelayApi } from '../api.js';
import { resolveRelay, tokenSourceFor } from '../auth/session.js';
import { printable, type Output } from '../output.js';

/** What every command gets: the environment, where to print, and the global --relay. */
export interface CommandContext {
  env: NodeJS.ProcessEnv;
  output: Output;
  relayFlag: string | undefined;
  /** Set by a command that finished but has to report something short of success (a BMC warning). */
  exitCode?: number;
  /** Asks a yes/no question (bulk confirmation); default the terminal, refused without one. */
  confirm?: (question: string) => Promise<boolean>;
}

export async function apiFor(context: CommandContext): Promise<RelayApi> {
  const relay = await resolveRelay(context.relayFlag, context.env);
  // Step-up (RFC 9470): a destructive action after an old sign-in signs the user in again and retries once.
  const stepUp = context.env['LIGHTSOUT_TOKEN']
    ? undefined
    : async (challenge: { message: string }) => {
        context.output.err(`${printable(challenge.message, { newlines: true })}\nSigning in again for this action …\n`);
        const { login } = await import('./login.js');
        await login(context, { maxAge: 0 });
        return tokenSourceFor(relay, context.env);
      };
  return new RelayApi(relay, tokenSourceFor(relay, context.env), stepUp);
}
