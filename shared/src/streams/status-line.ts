import type { StatusMessage } from './messages.js';

/**
 * A console's status change as one line for a person at a terminal (the
 * CLI, the SSH front door), or undefined for changes not worth a line.
 * `readOnlyHint` follows "you are now read-only" when someone takes control.
 */
export function describeStatus(status: StatusMessage, readOnlyHint = ''): string | undefined {
  const who = status.user ?? 'someone';
  switch (status.event) {
    case 'joined':
      return `${who} joined (${status.members.length} on this console)`;
    case 'left':
      return `${who} left`;
    case 'took-over':
      return `${who} took control${status.mode === 'view' ? `: you are now read-only${readOnlyHint}` : ''}`;
    case 'bmc-closed':
      return 'the BMC closed the console';
    default:
      return undefined;
  }
}
