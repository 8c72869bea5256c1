import { createSocket, type Socket } from 'node:dgram';
import {
  classifyDatagram, completionCodeOf, decodeAsf, decodeChannelAuthCapabilities, decodeIpmiMessage, decodeSystemGuid, decodeV15,
  encodeAsf, encodeIpmiMessage, encodeV15, getChannelAuthCapabilitiesRequest, getSystemGuidRequest, PRIVILEGE, requestMessage,
  type CommandRequest,
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
 * Every datagram the scan sends, encoded once: they are the same bytes at every address (no session, fixed
 * sequence numbers), and a /22 sends thousands of them. Never written to after this.
 */
const REQUEST = {
  extendedCaps: request(getChannelAuthCapabilitiesRequest(PRIVILEGE.administrator, true), SEQUENCE.extendedCaps),
  caps: request(getChannelAuthCapabilitiesRequest(PRIVILEGE.administrator, false), SEQUENCE.caps),
  guid: request(getSystemGuidRequest(), SEQUENCE.guid),
  ping: encodeAsf({ kind: 'ping', tag: ASF_TAG }),
} as const;
const GUID_COMMAND = getSystemGuidRequest().command;
const CAPS_COMMAND = getChannelAuthCapabilitiesRequest(PRIVILEGE.administrator).command;

/**
 * IPMI presence, one connected UDP socket per address being probed (at most
 * the scan's concurrency at once). Connected, because then the kernel hands
 * an ICMP port unreachable back as ECONNREFUSED (RFC 1122 §4.1.3.3): a host
 * without a BMC says so at once instead of costing the whole timeout twice.
 * Per address, Get Channel Authentication Capabilities first, alone (it
 * proves IPMI; an ASF pong alone does not, and some BMCs switch ASF off);
 * only where IPMI answered, Get System GUID and the ASF presence ping
 * follow, in one more round trip. Empty addresses, the most of most ranges,
 * so get one datagram instead of three. All three are
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
      // Round 1, at every address: Get Channel Auth Capabilities alone. Nothing else is worth a datagram
      // before something answers IPMI: an empty address costs one datagram (and its ICMP answer), not three.
      for (let attempt = 0; attempt <= this.options.retries && !inbox.replies.has(SEQUENCE.extendedCaps) && !inbox.refused; attempt++) {
        await send(REQUEST.extendedCaps);
        await this.until(inbox, () => inbox.replies.has(SEQUENCE.extendedCaps));
      }
      const extended = inbox.replies.get(SEQUENCE.extendedCaps);
      // No IPMI answer: nothing, or some other ASF device (a NIC's alert function), not a BMC we can manage.
      if (extended === undefined) return undefined;
      // Round 2, only where IPMI answered: Get System GUID, the ASF presence ping, and, where a v1.5-only BMC
      // refused the "v2.0 extended data" bit (§22.13), the request again without it. One round trip.
      const plainNeeded = extended.completionCode !== 0;
      await send(REQUEST.guid);
      await send(REQUEST.ping);
      if (plainNeeded) await send(REQUEST.caps);
      // A BMC with ASF switched off never pongs: it costs this wait once, as it did when the ping went first.
      await this.until(inbox, () => inbox.pong && inbox.replies.has(SEQUENCE.guid) && (!plainNeeded || inbox.replies.has(SEQUENCE.caps)));
      for (let attempt = 1; attempt <= this.options.retries && ((plainNeeded && !inbox.replies.has(SEQUENCE.caps)) || !inbox.replies.has(SEQUENCE.guid)); attempt++) {
        if (!inbox.replies.has(SEQUENCE.guid)) await send(REQUEST.guid);
        if (plainNeeded && !inbox.replies.has(SEQUENCE.caps)) await send(REQUEST.caps);
        await this.until(inbox, () => inbox.replies.has(SEQUENCE.guid) && (!plainNeeded || inbox.replies.has(SEQUENCE.caps)));
      }
      const answer = plainNeeded ? inbox.replies.get(SEQUENCE.caps) : extended;
      const capabilities = answer?.completionCode === 0 ? decodeOrUndefined(() => decodeChannelAuthCapabilities(answer.data)) : undefined;
      const finding: DiscoveredIpmi = {
        port: this.options.port,
        asf: inbox.pong,
        ipmi15: capabilities?.ipmi15 ?? false,
        ipmi20: capabilities?.ipmi20 ?? false,
        authTypes: capabilities === undefined ? [] : (['none', 'md2', 'md5', 'straight', 'oem'] as const).filter((type) => capabilities.authTypes[type]),
      };
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
      const expected = response.sequence === SEQUENCE.guid ? GUID_COMMAND : CAPS_COMMAND;
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
  const socket = createSocket({ type: 'udp4', lookup: literalLookup });
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

/**
 * The scan only ever names dotted IPv4 literals (its ranges), so no name is resolved: the answer is the
 * literal itself, at once. The default lookup goes through dns.lookup and a tick per call (twice per
 * socket: the implicit bind to 0.0.0.0, then the connect), for each of a range's addresses.
 */
function literalLookup(address: string, _options: unknown, callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  callback(null, address, 4);
}

/** ECONNREFUSED on a connected UDP socket is the ICMP port unreachable of the probed host; other errors are not an answer. */
function refusedBy(inbox: Inbox, error: Error | null | undefined): void {
  if ((error as NodeJS.ErrnoException | null | undefined)?.code !== 'ECONNREFUSED' || inbox.refused) return;
  inbox.refused = true;
  inbox.changed?.();
}
