/** The CLI's StreamClient socket for Node, reused by tests and benchmarks. */
export { nodeStreamSocket as nodeSocketFactory, nodeSetTimer as setTimer } from '../../cli/src/console/ws-socket.js';
