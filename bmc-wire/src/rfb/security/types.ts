import { type Decoded } from '../wire.js';

/** One step of a security type's exchange with the server (client role). */
export interface SecurityStep {
  /** Bytes to send to the server now, if any. */
  reply: Uint8Array | undefined;
  /** True when the type's own messages are over and SecurityResult (or ClientInit) comes next. */
  done: boolean;
}

/**
 * The client side of one security type, from just after the type was chosen
 * until SecurityResult. `receive` is called with every byte the server sent
 * since the previous step (the caller drops `length` bytes after each value),
 * and may return needMore.
 */
export interface SecurityExchange {
  /** Bytes to send right after choosing the type (before the server says anything), if any. */
  readonly opening: Uint8Array | undefined;
  receive(bytes: Uint8Array): Decoded<SecurityStep>;
}

export interface SecurityCredentials {
  /** The BMC's VNC password, held by the agent only. */
  password: string | undefined;
}

/** A security type the agent can perform toward a server. */
export interface SecurityType {
  readonly type: number;
  readonly name: string;
  /** Higher wins when the server offers several types we can do. */
  readonly preference: number;
  /**
   * RFC 6143 §7.1.3: on 3.3 and 3.7 a server sends no SecurityResult after
   * None. (3.8 sends it after every type.)
   */
  readonly resultBefore38: boolean;
  start(credentials: SecurityCredentials): SecurityExchange;
}
