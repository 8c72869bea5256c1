/**
 * @lightsout/cli/node: the Node side of a stream-plane client, for every
 * Node process that is one — the CLI, the relay's SSH front door (its own
 * legs to /v1/streams), the desktop app's main process — so that none keeps
 * its own copy. It imports nothing of the CLI's commands.
 */
export { nodeStreamSocket, nodeSetTimer, nodeSessionConnection } from './stream-socket.js';
export { openVncListener, formatAddress, type VncListener, type VncListenerOptions, type VncListenerOutcome } from './vnc-listener.js';
