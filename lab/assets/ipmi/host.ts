// The simulated host behind the lab's ipmi_sim, run as ipmi_sim's `startcmd`:
// chassis power is on exactly while this process lives. It connects to
// ipmi_sim's VM serial channel (lan.conf `serial 15 … codec VM`), announces
// power/reset/soft-off capabilities and obeys those commands, and reports its
// life to the lab's control socket (one line per event), which drives the
// host's UART. Self-contained (node:* only) so Node runs it directly.
//
//   node host.ts --vm-port N --control-port M
import { connect, type Socket } from 'node:net';

const VM_MESSAGE = 0xa0;
const VM_COMMAND = 0xa1;
const VM_ESCAPE = 0xaa;
const COMMAND_POWER_OFF = 0x03;
const COMMAND_RESET = 0x04;
const COMMAND_CAPABILITIES = 0x08;
const COMMAND_GRACEFUL_SHUTDOWN = 0x09;
const CAPABILITIES = 0x01 | 0x02 | 0x20; // power, reset, graceful shutdown
const SOFT_OFF_DELAY_MS = 1000;
const CONNECT_ATTEMPTS = 50;

function argument(name: string): number {
  const index = process.argv.indexOf(name);
  const value = Number(process.argv[index + 1]);
  if (index < 0 || !Number.isInteger(value) || value <= 0) throw new Error(`missing ${name}`);
  return value;
}

const vmPort = argument('--vm-port');
const controlPort = argument('--control-port');
const control = connect(controlPort, '127.0.0.1');
control.on('error', () => process.exit(0));
// The lab closes this socket when it stops: a host never outlives its lab.
control.on('close', () => process.exit(0));
control.write(`on ${process.pid}\n`);

function escapeVm(bytes: number[]): number[] {
  return bytes.flatMap((byte) => (byte === VM_MESSAGE || byte === VM_COMMAND || byte === VM_ESCAPE ? [VM_ESCAPE, byte | 0x10] : [byte]));
}

function attach(attempt: number): void {
  const vm: Socket = connect(vmPort, '127.0.0.1');
  let connected = false;
  let frame: number[] = [];
  let escaped = false;
  vm.on('connect', () => {
    connected = true;
    vm.write(Uint8Array.from([...escapeVm([COMMAND_CAPABILITIES, CAPABILITIES]), VM_COMMAND]));
  });
  vm.on('error', () => undefined);
  vm.on('close', () => {
    if (connected) process.exit(0); // the BMC went away
    if (attempt < CONNECT_ATTEMPTS) setTimeout(() => attach(attempt + 1), 100);
    else process.exit(1);
  });
  vm.on('data', (chunk: Buffer) => {
    for (const byte of chunk) {
      if (byte === VM_ESCAPE) {
        escaped = true;
      } else if (byte === VM_MESSAGE || byte === VM_COMMAND) {
        if (byte === VM_COMMAND && frame.length > 0) obey(frame[0]!);
        frame = [];
        escaped = false;
      } else {
        frame.push(escaped ? byte & ~0x10 : byte);
        escaped = false;
      }
    }
  });
}

function obey(command: number): void {
  if (command === COMMAND_POWER_OFF) {
    control.end('off\n', () => process.exit(0));
  } else if (command === COMMAND_RESET) {
    control.write('reset\n');
  } else if (command === COMMAND_GRACEFUL_SHUTDOWN) {
    control.write('soft\n');
    // A real OS takes a while to shut down; the lab's soft-off test relies on power staying on meanwhile.
    setTimeout(() => control.end('off\n', () => process.exit(0)), SOFT_OFF_DELAY_MS);
  }
}

attach(0);
