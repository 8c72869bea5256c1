/** The CLI's StreamClient socket for Node, and the connection to a created session (route question included), reused by tests and benchmarks. */
export { nodeStreamSocket as nodeSocketFactory, nodeSetTimer as setTimer, nodeSessionConnection as sessionConnection } from '@lightsout/cli';
