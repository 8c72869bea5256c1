/**
 * A TCP forwarder and nothing else: each connection is piped to
 * 127.0.0.1:<target> and back, as a separate process. Two of them in a row
 * are relay-throughput's ceiling baseline: the same three loopback hops and
 * three processes as client → relay → agent → sink, with no WebSocket
 * framing, masking, flow control or scheduling in the middle ones.
 *
 *   node --import tsx tcp-forwarder.ts <target port>   prints {"port": N} once listening
 */
import { connect, createServer } from 'node:net';

const target = Number(process.argv[2]);
if (!Number.isInteger(target) || target <= 0 || target > 65535) throw new Error('usage: tcp-forwarder.ts <target port>');

const server = createServer((incoming) => {
  const outgoing = connect({ host: '127.0.0.1', port: target });
  incoming.pipe(outgoing).on('error', () => incoming.destroy());
  outgoing.pipe(incoming).on('error', () => outgoing.destroy());
  incoming.on('error', () => outgoing.destroy());
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`));
// The bench closes our stdin when it is done with us.
process.stdin.resume().on('end', () => process.exit(0));
