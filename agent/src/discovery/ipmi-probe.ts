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
 * IPMI presence over one UDP socket for the whole scan: every address's
 * datagrams go out of it and replies are routed back by source address, so a
 * /22 costs one socket, not a thousand. Per address: an ASF presence ping and
 * Get Channel Authentication Capabilities together (some BMCs switch ASF
 * off, and an ASF pong alone does not prove IPMI), then Get System GUID when
 * IPMI answered. All three are allowed outside a session (IPMI v2.0 §13.2.3,
 * §22.13, §22.14); no login is ever attempted.
 */
export class IpmiScanSocket {
  private readonly inboxes = new Map<string, Inbox>();

  private constructor(
    private readonly socket: Socket,
    private readonly options: IpmiProbeOptions,
  ) {
    socket.on('message', (message, remote) => {
      if (remote.port !== options.port) return;
      const inbox = this.inboxes.get(remote.address);
      if (inbox !== undefined) receive(inbox, new Uint8Array(message.buffer, message.byteOffset, message.length));
    });
    // An ICMP port unreachable for one address must not end the scan of the others.
    socket.on('error', () => undefined);
  }

  static async open(options: IpmiProbeOptions): Promise<IpmiScanSocket> {
    const socket = createSocket({ type: 'udp4', recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new IpmiScanSocket(socket, options);
  }

  async probe(address: string): Promise<DiscoveredIpmi | undefined> {
    const inbox: Inbox = { pong: false, replies: new Map(), changed: undefined };
    this.inboxes.set(address, inbox);
    try {
      let capabilities: ChannelAuthCapabilities | undefined;
      for (let attempt = 0; attempt <= this.options.retries && !inbox.replies.has(SEQUENCE.extendedCaps); attempt++) {
        if (!inbox.pong) await this.send(address, encodeAsf({ kind: 'ping', tag: ASF_TAG }));
        await this.send(address, request(getChannelAuthCapabilitiesRequest(PRIVILEGE.administrator, true), SEQUENCE.extendedCaps));
        await this.until(inbox, () => inbox.pong && inbox.replies.has(SEQUENCE.extendedCaps));
      }
      const extended = inbox.replies.get(SEQUENCE.extendedCaps);
      // No IPMI answer: nothing, or some other ASF device (a NIC's alert function), not a BMC we can manage.
      if (extended === undefined) return undefined;
      if (extended.completionCode === 0) capabilities = decodeOrUndefined(() => decodeChannelAuthCapabilities(extended.data));
      else {
        // A v1.5-only BMC refuses the "v2.0 extended data" bit (§22.13): ask again without it.
        await this.send(address, request(getChannelAuthCapabilitiesRequest(PRIVILEGE.administrator, false), SEQUENCE.caps));
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
      for (let attempt = 0; attempt <= this.options.retries && !inbox.replies.has(SEQUENCE.guid); attempt++) {
        await this.send(address, request(getSystemGuidRequest(), SEQUENCE.guid));
        await this.until(inbox, () => inbox.replies.has(SEQUENCE.guid));
      }
      const guid = inbox.replies.get(SEQUENCE.guid);
      if (guid?.completionCode === 0) {
        const text = decodeOrUndefined(() => decodeSystemGuid(guid.data));
        if (text !== undefined && !/^[0-]+$/.test(text)) finding.guid = text;
      }
      return finding;
    } finally {
      this.inboxes.delete(address);
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private async send(address: string, datagram: Uint8Array): Promise<void> {
    await this.options.pacer.take();
    this.options.onSend?.(address);
    this.socket.send(datagram, this.options.port, address);
  }

  /** Waits until `done()` holds or the timeout passes, woken by each datagram from the address. */
  private until(inbox: Inbox, done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(finish, this.options.timeoutMs);
      function finish(): void {
        clearTimeout(timer);
        inbox.changed = undefined;
        resolve();
      }
      inbox.changed = () => {
        if (done()) finish();
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
