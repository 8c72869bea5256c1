import { createSocket, type Socket } from 'node:dgram';
import {
  classifyDatagram, completionCodeOf, decodeAsf, decodeChannelAuthCapabilities, decodeIpmiMessage, decodeSystemGuid, decodeV15,
  encodeAsf, encodeIpmiMessage, encodeV15, getChannelAuthCapabilitiesRequest, getSystemGuidRequest, PRIVILEGE, requestMessage,
  type ChannelAuthCapabilities, type CommandRequest,
} from '@lightsout/bmc-wire/ipmi';
import type { DiscoveredIpmi } from '@lightsout/shared';
import type { ProbePacer } from './pacer.js';

/** What arrived from one address while it is being probed. */
interface Inbox {
  pong: boolean;
  /** ICMP port unreachable came back: nothing listens on the IPMI port there. */
  refused: boolean;
  /** Replies to our pre-session requests by request sequence: completion code and data. */
  replies: Map<number, { completionCode: number; data: Uint8Array }>;
  changed: (() => void) | undefined;
}

export interface IpmiProbeOptions {
  port: number;
  pacer: ProbePacer;
  timeoutMs: number;
  /** Resends after the first attempt when nothing answered. */
  retries: number;
  /** Called as each datagram leaves (tests count probes per second here). */
  onSend?: (address: string) => void;
}

// Request sequence numbers of the pre-session requests (IPMI v2.0 §5.3, rqSeq: 6 bits).
const SEQUENCE = { extendedCaps: 1, caps: 2, guid: 3 } as const;
const ASF_TAG = 0x4c;

/**
 * IPMI presence, one connected UDP socket per address being probed (at most
 * the scan's concurrency at once). Connected, because then the kernel hands
 * an ICMP port unreachable back as ECONNREFUSED (RFC 1122 §4.1.3.3): a host
 * without a BMC says so at once instead of costing the whole timeout twice.
 * Per address: an ASF presence ping and Get Channel Authentication
 * Capabilities together (some BMCs switch ASF off, and an ASF pong alone does
 * not prove IPMI), with Get System GUID the first time (asked again if IPMI answered without it). All three are
 * allowed outside a session (IPMI v2.0 §13.2.3, §22.13, §22.14); no login is
 * ever attempted.
 */
export class IpmiScanSocket {
  private constructor(private readonly options: IpmiProbeOptions) {}

  static open(options: IpmiProbeOptions): Promise<IpmiScanSocket> {
    return Promise.resolve(new IpmiScanSocket(options));
  }

  async probe(address: string): Promise<DiscoveredIpmi | undefined> {
    const inbox: Inbox = { pong: false, refused: false, replies: new Map(), changed: undefined };
    const socket = await connectedSocket(address, this.options.port, inbox);
    if (socket === undefined) return undefined;
    const send = (datagram: Uint8Array) => this.send(socket, inbox, address, datagram);
    try {
      let capabilities: ChannelAuthCapabilities | undefined;
      for (let attempt = 0; attempt <= this.options.retries && !inbox.replies.has(SEQUENCE.extendedCaps) && !inbox.refused; attempt++) {
        if (!inbox.pong) await send(encodeAsf({ kind: 'ping', tag: ASF_TAG }));
        await send(request(getChannelAuthCapabilitiesRequest(PRIVILEGE.administrator, true), SEQUENCE.extendedCaps));
        // The GUID rides along the first time: one round trip per BMC instead of two (a scan of 1,000 BMCs waits on each).
        if (attempt === 0) await send(request(getSystemGuidRequest(), SEQUENCE.guid));
        await this.until(inbox, () => inbox.pong && inbox.replies.has(SEQUENCE.extendedCaps) && inbox.replies.has(SEQUENCE.guid));
      }
      const extended = inbox.replies.get(SEQUENCE.extendedCaps);
      // No IPMI answer: nothing, or some other ASF device (a NIC's alert function), not a BMC we can manage.
      if (extended === undefined) return undefined;
      if (extended.completionCode === 0) capabilities = decodeOrUndefined(() => decodeChannelAuthCapabilities(extended.data));
      else {
        // A v1.5-only BMC refuses the "v2.0 extended data" bit (§22.13): ask again without it.
        await send(request(getChannelAuthCapabilitiesRequest(PRIVILEGE.administrator, false), SEQUENCE.caps));
        await this.until(inbox, () => inbox.replies.has(SEQUENCE.caps));
        const plain = inbox.replies.get(SEQUENCE.caps);
        if (plain?.completionCode === 0) capabilities = decodeOrUndefined(() => decodeChannelAuthCapabilities(plain.data));
      }
      const finding: DiscoveredIpmi = {
        port: this.options.port,
        asf: inbox.pong,
        ipmi15: capabilities?.ipmi15 ?? false,
        ipmi20: capabilities?.ipmi20 ?? false,
        authTypes: capabilities === undefined ? [] : (['none', 'md2', 'md5', 'straight', 'oem'] as const).filter((type) => capabilities.authTypes[type]),
      };
      for (let attempt = 1; attempt <= this.options.retries && !inbox.replies.has(SEQUENCE.guid); attempt++) {
        await send(request(getSystemGuidRequest(), SEQUENCE.guid));
        await this.until(inbox, () => inbox.replies.has(SEQUENCE.guid));
      }
      const guid = inbox.replies.get(SEQUENCE.guid);
      if (guid?.completionCode === 0) {
        const text = decodeOrUndefined(() => decodeSystemGuid(guid.data));
        if (text !== undefined && !/^[0-]+$/.test(text)) finding.guid = text;
      }
      return finding;
    } finally {
      inbox.changed = undefined;
      socket.close();
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private async send(socket: Socket, inbox: Inbox, address: string, datagram: Uint8Array): Promise<void> {
    await this.options.pacer.take();
    this.options.onSend?.(address);
    // The ICMP answer to an earlier datagram can surface here instead of at the next read.
    socket.send(datagram, (error) => refusedBy(inbox, error));
  }

  /** Waits until `done()` holds, the port is refused or the timeout passes, woken by each datagram from the address. */
  private until(inbox: Inbox, done: () => boolean): Promise<void> {
    if (done() || inbox.refused) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(finish, this.options.timeoutMs);
      function finish(): void {
        clearTimeout(timer);
        inbox.changed = undefined;
        resolve();
      }
      inbox.changed = () => {
        if (done() || inbox.refused) finish();
      };
    });
  }
}

function request(command: CommandRequest, sequence: number): Uint8Array {
  const message = encodeIpmiMessage(requestMessage(command.netFn, command.command, sequence, command.data));
  // v1.5 framing, auth type none, session 0: the only framing before a session (§22.12–§22.15).
  return encodeV15({ authType: 0, sequence: 0, sessionId: 0, authCode: undefined, message });
}

/** Files a datagram from the probed address; anything malformed is dropped as a BMC would drop ours. */
function receive(inbox: Inbox, datagram: Uint8Array): void {
  try {
    const kind = classifyDatagram(datagram);
    if (kind === 'asf') {
      const message = decodeAsf(datagram);
      if (message.kind === 'pong' && message.tag === ASF_TAG) inbox.pong = true;
    } else if (kind === 'ipmi-v1.5') {
      const response = decodeIpmiMessage(decodeV15(datagram).message);
      const expected = response.sequence === SEQUENCE.guid ? getSystemGuidRequest().command : getChannelAuthCapabilitiesRequest(0).command;
      if (response.command === expected && !inbox.replies.has(response.sequence)) inbox.replies.set(response.sequence, { completionCode: completionCodeOf(response), data: response.data.subarray(1) });
    }
  } catch {
    return;
  }
  inbox.changed?.();
}

function decodeOrUndefined<T>(decode: () => T): T | undefined {
  try {
    return decode();
  } catch {
    return undefined;
  }
}

/** A UDP socket connected to the address (replies from anyone else never reach it); undefined when it cannot be. */
async function connectedSocket(address: string, port: number, inbox: Inbox): Promise<Socket | undefined> {
  const socket = createSocket('udp4');
  socket.on('message', (message) => receive(inbox, new Uint8Array(message.buffer, message.byteOffset, message.length)));
  socket.on('error', (error) => refusedBy(inbox, error));
  return new Promise((resolve) => {
    socket.connect(port, address, (error?: Error) => {
      if (error === undefined || error === null) return resolve(socket);
      socket.close();
      resolve(undefined);
    });
  });
}

/** ECONNREFUSED on a connected UDP socket is the ICMP port unreachable of the probed host; other errors are not an answer. */
function refusedBy(inbox: Inbox, error: Error | null | undefined): void {
  if ((error as NodeJS.ErrnoException | null | undefined)?.code !== 'ECONNREFUSED' || inbox.refused) return;
  inbox.refused = true;
  inbox.changed?.();
}
