/** The CLI's StreamClient socket for Node, reused by tests and benchmarks. */
export { nodeStreamSocket as nodeSocketFactory, nodeSetTimer as setTimer } from '@lightsout/cli';
