import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';

/**
 * The host side of the lab BMC, in the test process: the UART that ipmi_sim's
 * SOL connects to (`sol "tcp:…"`) and the control socket the host process
 * (assets/ipmi/host.ts, ipmi_sim's startcmd) reports its life on. Tests read
 * every byte that reached the UART and write host output directly, so SOL
 * can be checked byte-exactly in both directions.
 */
export interface HostUart {
  /** Everything SOL delivered to the host so far. */
  received(): Uint8Array;
  /** Sends bytes out of the host's UART (towards SOL). */
  write(bytes: Uint8Array | string): void;
  /** Resolves once `received()` satisfies `predicate`; rejects after `timeoutMs`. */
  waitForReceived(predicate: (received: Uint8Array) => boolean, timeoutMs?: number): Promise<Uint8Array>;
  /** Resolves when ipmi_sim's SOL is connected to the UART. */
  waitForSolConnection(timeoutMs?: number): Promise<void>;
  readonly power: 'on' | 'off';
  readonly bootCount: number;
  readonly hostPid: number | undefined;
  /** Resolves when the host reaches `state` (already there resolves at once). */
  waitForPower(state: 'on' | 'off', timeoutMs?: number): Promise<void>;
  /** Drops received bytes (between test phases). */
  clearReceived(): void;
  /** Turns the echoing shell on or off at run time. */
  setShell(on: boolean): void;
}

export interface HostUartOptions {
  /** Echo typed bytes and print a banner on power-on/reset, like a serial console. Off for byte-exact tests. */
  shell: boolean;
}

const MAX_RECEIVED = 64 * 1024 * 1024;

export class LabHostUart implements HostUart {
  readonly uartServer: Server;
  readonly controlServer: Server;
  private solSocket: Socket | undefined;
  private hostSocket: Socket | undefined;
  private readonly chunks: Uint8Array[] = [];
  private receivedLength = 0;
  private readonly events = new EventEmitter();
  power: 'on' | 'off' = 'off';
  bootCount = 0;
  hostPid: number | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private options: HostUartOptions) {
    this.events.setMaxListeners(100);
    this.uartServer = createServer((socket) => this.acceptSol(socket));
    this.controlServer = createServer((socket) => this.acceptHost(socket));
  }

  async listen(): Promise<{ uartPort: number; controlPort: number }> {
    const listen = (server: Server) => new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
    return { uartPort: await listen(this.uartServer), controlPort: await listen(this.controlServer) };
  }

  received(): Uint8Array {
    if (this.chunks.length > 1) {
      const whole = Buffer.concat(this.chunks);
      this.chunks.length = 0;
      this.chunks.push(new Uint8Array(whole.buffer, whole.byteOffset, whole.length));
    }
    return this.chunks[0] ?? new Uint8Array();
  }

  setShell(on: boolean): void {
    this.options = { ...this.options, shell: on };
  }

  clearReceived(): void {
    this.chunks.length = 0;
    this.receivedLength = 0;
  }

  write(bytes: Uint8Array | string): void {
    if (this.solSocket === undefined) throw new Error('ipmi_sim SOL is not connected to the UART');
    this.solSocket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  waitForReceived(predicate: (received: Uint8Array) => boolean, timeoutMs = 10_000): Promise<Uint8Array> {
    return this.waitFor('received', () => (predicate(this.received()) ? this.received() : undefined), timeoutMs, 'UART bytes');
  }

  waitForSolConnection(timeoutMs = 15_000): Promise<void> {
    return this.waitFor('sol', () => (this.solSocket === undefined ? undefined : true), timeoutMs, 'SOL connection').then(() => undefined);
  }

  waitForPower(state: 'on' | 'off', timeoutMs = 15_000): Promise<void> {
    return this.waitFor('power', () => (this.power === state ? true : undefined), timeoutMs, `power ${state}`).then(() => undefined);
  }

  /** Tells the host process to exit and waits until its control socket closes. */
  async stopHost(timeoutMs = 3000): Promise<number | undefined> {
    const socket = this.hostSocket;
    const pid = this.hostPid;
    if (socket === undefined) return undefined;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.end();
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    if ((await Promise.race([closed, timer])) === 'timeout') return pid;
    return undefined;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await Promise.all([this.uartServer, this.controlServer].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    this.events.removeAllListeners();
  }

  private waitFor<T>(event: string, check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        const value = check();
        if (value === undefined) return false;
        clearTimeout(timer);
        this.events.off(event, attempt);
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        this.events.off(event, attempt);
        reject(new Error(`lab UART: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      if (!attempt()) this.events.on(event, attempt);
    });
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  private acceptSol(socket: Socket): void {
    this.track(socket);
    socket.setNoDelay(true);
    this.solSocket?.destroy();
    this.solSocket = socket;
    socket.on('data', (chunk: Buffer) => {
      if (this.receivedLength + chunk.length <= MAX_RECEIVED) {
        this.chunks.push(new Uint8Array(chunk));
        this.receivedLength += chunk.length;
      }
      if (this.options.shell && this.power === 'on') socket.write(chunk.toString('latin1').replace(/\r(?!\n)/g, '\r\n'), 'latin1');
      this.events.emit('received');
    });
    socket.on('close', () => {
      if (this.solSocket === socket) this.solSocket = undefined;
    });
    this.events.emit('sol');
  }

  private acceptHost(socket: Socket): void {
    this.track(socket);
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        this.hostEvent(socket, line);
      }
    });
    socket.on('close', () => {
      if (this.hostSocket !== socket) return;
      this.hostSocket = undefined;
      this.hostPid = undefined;
      this.setPower('off');
    });
  }

  private hostEvent(socket: Socket, line: string): void {
    const [verb, argument] = line.split(' ');
    if (verb === 'on') {
      this.hostSocket = socket;
      this.hostPid = Number(argument);
      this.bootCount++;
      this.setPower('on');
      this.banner('power on');
    } else if (verb === 'reset') {
      this.bootCount++;
      this.banner('reset');
      this.events.emit('reset');
    } else if (verb === 'soft') {
      if (this.options.shell) this.solSocket?.write('\r\n[lab-host] ACPI power button: shutting down\r\n');
    }
    // 'off' is only announced; power is off when the process is gone and its socket closes.
  }

  private setPower(state: 'on' | 'off'): void {
    this.power = state;
    this.events.emit('power');
  }

  private banner(reason: string): void {
    if (this.options.shell) this.solSocket?.write(`\r\n[lab-host] ${reason}: BIOS POST ok (boot #${this.bootCount})\r\nlabhost login: `);
  }
}
