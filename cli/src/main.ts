import { CommanderError } from 'commander';
import { DEFAULT_HINTS, LightsoutError } from '@lightsout/shared';
import type { CommandContext } from './commands/context.js';
import { exitCodeOf, ExitCode } from './exit-codes.js';
import { printable, processOutput, type Output } from './output.js';
import { buildProgram } from './program.js';

/**
 * Prints `error CODE: message` and `hint: …` on stderr; returns the documented exit code.
 * Message and hint are often the relay's or a BMC's words: shown by `printable`.
 */
export function reportError(error: unknown, output: Output): number {
  if (error instanceof LightsoutError) {
    output.err(`error ${error.code}: ${printable(error.message, { newlines: true })}\n`);
    const hint = error.hint ?? DEFAULT_HINTS[error.code];
    if (hint) output.err(`hint: ${printable(hint, { newlines: true })}\n`);
    return exitCodeOf(error.code);
  }
  output.err(`error INTERNAL: ${printable((error as Error)?.message ?? String(error), { newlines: true })}\n`);
  return ExitCode.ERROR;
}

/** Runs one command line; never throws, never calls process.exit (tests run it in-process). */
export async function run(argv: readonly string[], options: { env?: NodeJS.ProcessEnv; output?: Output; confirm?: (question: string) => Promise<boolean> } = {}): Promise<number> {
  const output = options.output ?? processOutput;
  const context: CommandContext = { env: options.env ?? process.env, output, relayFlag: undefined, ...(options.confirm === undefined ? {} : { confirm: options.confirm }) };
  const program = buildProgram(context);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return context.exitCode ?? ExitCode.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its message (or the help) through configureOutput.
      return error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    return reportError(error, output);
  }
}
