export { run, reportError } from './main.js';
export { ExitCode, exitCodeOf } from './exit-codes.js';
export { table } from './output.js';
export { nodeStreamSocket, nodeSetTimer, nodeSessionConnection } from './node/stream-socket.js';
