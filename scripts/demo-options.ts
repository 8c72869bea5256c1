import { type ParseArgsConfig, parseArgs } from 'node:util';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/**
 * The demos' command line: a mistyped or unknown option is one line that
 * names it and the usage, exit status 2 (as for any other refused start) —
 * not a Node stack trace.
 */
export function demoOptions<const T extends OptionsConfig>(options: T, usage: string): ReturnType<typeof parseArgs<{ options: T }>>['values'] {
  try {
    return parseArgs({ options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\nusage: ${usage}\n`);
    process.exit(2);
  }
}
