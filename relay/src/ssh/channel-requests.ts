import type { Connection, ServerChannel, Session } from 'ssh2';
import type { SshExitStatus } from './exit-status.js';

/**
 * Answers to session channel requests that ssh2's API does not cover.
 */

/**
 * Refuses a channel request the client wants an answer to (RFC 4254 §5.4:
 * SSH_MSG_CHANNEL_FAILURE). ssh2's own `reject` says nothing once the
 * session has its channel, so then the failure is sent through its protocol
 * object (as the front door's break interception reaches it); a request
 * without want-reply needs no answer.
 */
export function refuseRequest(client: Connection, session: Session, reject: (() => void) | undefined): void {
  if (reject === undefined) return;
  const internals = session as unknown as { _channel?: unknown; _ending?: boolean; _chanInfo?: { outgoing: { id: number } } };
  const protocol = (client as unknown as { _protocol?: { channelFailure?(id: number): void } })._protocol;
  if (internals._channel === undefined || internals._ending === true || internals._chanInfo === undefined) return reject();
  protocol?.channelFailure?.(internals._chanInfo.outgoing.id);
}

/** Ends a channel with an exit status; one whose connection is already gone has no one to tell. */
export function endChannel(channel: ServerChannel, status: SshExitStatus): void {
  try {
    channel.exit(status);
    channel.end();
  } catch {
    // The connection closed first.
  }
}
