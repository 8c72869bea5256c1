import { LightsoutError, StreamCloseCode, agentCloseEndsSession, StreamLimits, type TurnScheduler, createStreamTurns, tickBatcher, tickTally, decodeAgentStreamMessage, decodeClientStreamMessage, encodeStreamMessage } from '@lightsout/shared';
import type { Socket } from 'node:net';
import type { RawData, WebSocket } from 'ws';

export interface SpliceOptions {
  highWaterBytes?: number;
  lowWaterBytes?: number;
  maxDataFrameBytes?: number;
  /** Who reads when (default: the process's scheduler, shared by every splice). */
  turns?: TurnScheduler;
  /** Downstream payload as it passes (recording); must not hold on to slow work. */
  onDownstream?(bytes: Buffer): void;
  onUpstreamControl?(text: string): void;
  /** Bytes forwarded, summed over the frames of one tick (metrics). */
  onForwarded?(direction: 'to_client' | 'to_agent', bytes: number): void;
  /** Both sides are closed; `code` is what the client was told. */
  onEnd?(code: number, reason: string): void;
}

export interface Splice {
  /** Send a relay message to the client (the resume token). */
  sendToClient(text: string): void;
  /**
   * The path to the BMC (the agent's control connection) went down or came
   * back: tell the client; while down, client input is not forwarded (it
   * would run whenever the agent reads it) but dropped, and both ends are
   * told how much (`dropped`), so their byte offsets still agree.
   */
  setPath(up: boolean): void;
  close(code: number, reason: string): void;
  readonly pendingToClient: number;
  readonly pendingToAgent: number;
}

/** The relay process's read scheduler: every splice's two sides take their turns in it. */
export const relayTurns = createStreamTurns(setImmediate);

/** Messages that arrived before the splice took over (a paused ws still emits what it already parsed). */
export interface HeldMessages {
  take(): [RawData, boolean][];
}

/** Queue a socket's messages until the splice starts; more than `maxMessages` early messages is a protocol violation. */
export function hold(socket: WebSocket, maxMessages = 16): HeldMessages {
  const queue: [RawData, boolean][] = [];
  const listener = (data: RawData, isBinary: boolean) => {
    if (queue.length >= maxMessages) return socket.terminate();
    queue.push([data, isBinary]);
  };
  socket.on('message', listener);
  return {
    take() {
      socket.off('message', listener);
      return queue.splice(0);
    },
  };
}

/** The TCP socket under a `ws` WebSocket (ws keeps it as `_socket`; undefined when there is none, as in tests with stand-ins). */
function rawSocketOf(socket: WebSocket): Socket | undefined {
  return (socket as unknown as { _socket?: Socket })._socket;
}

function asBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Below this, a control message (an ack) is cheaper to check than to remember. */
const REMEMBER_CHECKED_BYTES = 512;
let lastCheckedAgentControl: Buffer | undefined;

/**
 * Whether an agent's text frame is an allowed control message. A console's
 * status goes to each of its viewers as the same text (the agent encodes it
 * once, console-group.ts): the last large message that passed is kept, so a
 * thousand viewers' copies are parsed once here, not a thousand times.
 */
export function isAgentControl(bytes: Buffer): boolean {
  if (lastCheckedAgentControl?.equals(bytes)) return true;
  try {
    decodeAgentStreamMessage(bytes.toString('utf8'));
  } catch {
    return false;
  }
  if (bytes.length >= REMEMBER_CHECKED_BYTES) lastCheckedAgentControl = Buffer.from(bytes);
  return true;
}

/**
 * Join a client data connection and an agent data connection. Binary frames
 * pass through untouched; text frames are checked against the allowed
 * control messages of their direction (a client cannot impersonate the
 * agent or the relay) and passed on as the same text.
 *
 * Backpressure: per direction, count bytes handed to the target socket but not
 * yet written to the kernel (the `send` callback). Above the high-water mark
 * stop reading the source socket (`pause`, so TCP pushes back on the sender);
 * below the low-water mark read again. Memory per stream is bounded by the
 * two high-water marks plus one frame each way.
 *
 * Fairness: every side of every splice in the process is read under one
 * TurnScheduler: a side reads at most a quantum per event-loop turn and the
 * process a bounded amount over all sides, so bulk legs take turns with each
 * other and a keystroke on a quiet leg waits for about one bounded turn, not
 * for whatever the kernel had buffered on every busy leg.
 *
 * Both sockets arrive paused (nothing is read before the splice can take
 * it); the splice starts reading them.
 */
export function splice(client: WebSocket, agent: WebSocket, options: SpliceOptions = {}, early: { client?: HeldMessages; agent?: HeldMessages } = {}): Splice {
  const high = options.highWaterBytes ?? StreamLimits.relayHighWaterBytes;
  const low = options.lowWaterBytes ?? StreamLimits.relayLowWaterBytes;
  const maxFrame = options.maxDataFrameBytes ?? StreamLimits.maxDataFrameBytes;
  let pendingToClient = 0;
  let pendingToAgent = 0;
  let ended = false;
  let pathUp = true;
  /** The client sent a message on this connection (a `resume` is accepted only before that). */
  let clientSpoke = false;
  const turns = options.turns ?? relayTurns;
  const clientGate = turns.gate(client, { paused: true });
  const agentGate = turns.gate(agent, { paused: true });
  // The frames one socket read held go on in one writev each way.
  const batchToAgent = tickBatcher(rawSocketOf(agent), process.nextTick);
  const batchToClient = tickBatcher(rawSocketOf(client), process.nextTick);
  // Counted per tick: the metric is updated once for the frames one read held, not once a frame.
  const { onForwarded } = options;
  const forwardedToAgent = onForwarded === undefined ? undefined : tickTally((bytes) => onForwarded('to_agent', bytes), process.nextTick);
  const forwardedToClient = onForwarded === undefined ? undefined : tickTally((bytes) => onForwarded('to_client', bytes), process.nextTick);

  const end = (code: number, reason: string, agentCode = code): void => {
    if (ended) return;
    ended = true;
    clientGate.stop();
    agentGate.stop();
    client.off('message', fromClient);
    agent.off('message', fromAgent);
    closeQuietly(client, code, reason);
    closeQuietly(agent, agentCode, reason);
    options.onEnd?.(code, reason);
  };

  const toAgentDone = (length: number) => (error?: Error) => {
    pendingToAgent -= length;
    if (error) return end(StreamCloseCode.RESUME, 'agent connection failed');
    if (pendingToAgent <= low) clientGate.set('backpressure', false);
  };
  const toClientDone = (length: number) => (error?: Error) => {
    pendingToClient -= length;
    if (error) return end(StreamCloseCode.RESUME, 'client connection failed');
    if (pendingToClient <= low) agentGate.set('backpressure', false);
  };

  function fromClient(data: RawData, isBinary: boolean): void {
    if (ended) return;
    const first = !clientSpoke;
    clientSpoke = true;
    const bytes = asBuffer(data);
    if (isBinary) {
      if (bytes.length > maxFrame) return end(StreamCloseCode.FRAME_TOO_LARGE, `data frame over ${maxFrame} bytes`, StreamCloseCode.RESUME);
      if (!pathUp) {
        if (bytes.length === 0) return;
        const dropped = encodeStreamMessage({ type: 'dropped', bytes: bytes.length });
        sendQuietly(client, dropped);
        pendingToAgent += dropped.length;
        agent.send(dropped, { binary: false }, toAgentDone(dropped.length));
        clientGate.consumed(bytes.length);
        return;
      }
      pendingToAgent += bytes.length;
      forwardedToAgent?.(bytes.length);
      batchToAgent();
      agent.send(bytes, { binary: true }, toAgentDone(bytes.length));
      if (pendingToAgent > high) clientGate.set('backpressure', true);
      clientGate.consumed(bytes.length);
      return;
    }
    const text = bytes.toString('utf8');
    try {
      const message = decodeClientStreamMessage(text);
      // A resume sets where both ends (and the recording) count from; later in a leg it would make the agent replay
      // from an offset of the client's choosing while output already sent is counted from the old one.
      if (message.type === 'resume' && !first) throw new LightsoutError('MALFORMED_MESSAGE', 'resume is only the first message of a connection');
    } catch (error) {
      const message = error instanceof LightsoutError ? error.message : 'bad control message';
      sendQuietly(client, encodeStreamMessage({ type: 'error', code: error instanceof LightsoutError ? error.code : 'MALFORMED_MESSAGE', message }));
      // The agent keeps the session for a proper client to resume; this connection is done.
      return end(StreamCloseCode.MALFORMED_MESSAGE, message.slice(0, 120), StreamCloseCode.RESUME);
    }
    options.onUpstreamControl?.(text);
    // The same bytes go on (ws checked they are UTF-8), counted as bytes like every other frame.
    pendingToAgent += bytes.length;
    forwardedToAgent?.(bytes.length);
    agent.send(bytes, { binary: false }, toAgentDone(bytes.length));
  }

  function fromAgent(data: RawData, isBinary: boolean): void {
    if (ended) return;
    const bytes = asBuffer(data);
    if (isBinary) {
      if (bytes.length > maxFrame) return end(StreamCloseCode.RESUME, 'agent sent an oversize frame');
      options.onDownstream?.(bytes);
      pendingToClient += bytes.length;
      forwardedToClient?.(bytes.length);
      batchToClient();
      client.send(bytes, { binary: true }, toClientDone(bytes.length));
      if (pendingToClient > high) agentGate.set('backpressure', true);
      agentGate.consumed(bytes.length);
      return;
    }
    if (!isAgentControl(bytes)) return end(StreamCloseCode.RESUME, 'agent sent a bad control message');
    pendingToClient += bytes.length;
    forwardedToClient?.(bytes.length);
    // the bytes as they came (ws checked they are UTF-8): no decode and re-encode on the way
    client.send(bytes, { binary: false }, toClientDone(bytes.length));
  }

  for (const [data, isBinary] of early.agent?.take() ?? []) fromAgent(data, isBinary);
  for (const [data, isBinary] of early.client?.take() ?? []) fromClient(data, isBinary);
  client.on('message', fromClient);
  agent.on('message', fromAgent);
  // Both were paused until now: read them (unless the early messages already backed a side up).
  agentGate.set('backpressure', pendingToClient > high);
  clientGate.set('backpressure', pendingToAgent > high);
  // A leg that drops is not the end of the session: the client resumes through a new leg.
  // Only a normal close (1000: the user left) ends it at the agent too.
  client.once('close', (code) => end(StreamCloseCode.RESUME, `client left (${code})`, code === 1000 ? 1000 : StreamCloseCode.RESUME));
  agent.once('close', (code, reason) => {
    const final = agentCloseEndsSession(code);
    end(final ? code : StreamCloseCode.RESUME, final ? reason.toString('utf8') : 'agent connection dropped');
  });
  client.on('error', () => end(StreamCloseCode.RESUME, 'client connection failed'));
  agent.on('error', () => end(StreamCloseCode.RESUME, 'agent connection failed'));

  return {
    sendToClient(text: string) {
      if (!ended) sendQuietly(client, text);
    },
    setPath(up: boolean) {
      if (ended || pathUp === up) return;
      pathUp = up;
      sendQuietly(client, encodeStreamMessage({ type: 'path', state: up ? 'up' : 'down' }));
    },
    close: end,
    get pendingToClient() {
      return pendingToClient;
    },
    get pendingToAgent() {
      return pendingToAgent;
    },
  };
}

export function sendQuietly(socket: WebSocket, text: string): void {
  if (socket.readyState === socket.OPEN) socket.send(text);
}

export function closeQuietly(socket: WebSocket, code: number, reason: string): void {
  if (socket.readyState === socket.CLOSED) return;
  if (socket.readyState === socket.CONNECTING) return socket.terminate();
  if (socket.readyState === socket.CLOSING) return;
  // A paused socket would never read the peer's close frame: the handshake would hang until the timer.
  if (socket.isPaused) socket.resume();
  try {
    socket.close(code, Buffer.byteLength(reason) > 120 ? reason.slice(0, 40) : reason);
  } catch {
    socket.terminate();
  }
  // A peer that never answers the close handshake must not hold the socket (and its buffers).
  const timer = setTimeout(() => socket.terminate(), 5000);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
