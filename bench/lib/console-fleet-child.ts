/**
 * The simulated BMCs of a console benchmark, in their own process
 * (console-fleet.ts starts it): N bmcsim BMCs on 127.0.0.1, IPMI only, hosts
 * on. Commands on stdin, one JSON object a line; answers on stdout, likewise.
 *   {"lines": ms}   every host writes `@<index>:<seq>#\r\n` to its console every ms (0: stop)
 *   {"written": 1}  → {"written": [lines written per host]}
 * Started with the fleet's agent config: {"ready": {servers, credentials, environment}}.
 */
import { createInterface } from 'node:readline';
import { startFleet } from '@lightsout/bmcsim';

const count = Number(process.argv[2]);
const fleet = await startFleet({ count, address: '127.0.0.1', ports: { ipmi: 0, web: 0, vnc: 0 }, tls: false, startPowered: true });
const written = fleet.bmcs.map(() => 0);
let writer: NodeJS.Timeout | undefined;
const send = (message: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(message)}\n`);
send({ ready: { servers: fleet.agentConfig.servers, credentials: fleet.agentConfig.credentials, environment: fleet.agentEnvironment } });
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const command = JSON.parse(line) as { lines?: number; written?: number };
  if (command.lines !== undefined) {
    clearInterval(writer);
    writer = undefined;
    if (command.lines > 0) {
      writer = setInterval(() => {
        fleet.bmcs.forEach((entry, index) => entry.bmc.host.writeConsole(Buffer.from(`@${index}:${written[index]!++}#\r\n`, 'latin1')));
      }, command.lines);
    }
    send({ lines: command.lines });
  }
  if (command.written !== undefined) send({ written });
});
lines.on('close', () => {
  clearInterval(writer);
  void fleet.stop().then(() => process.exit(0));
});
