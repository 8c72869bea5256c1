import Type, { type TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { BootOverride, LightsoutError, PowerAction, type ControlOperation, type ErrorBody, type RequestMessage } from '@lightsout/shared';
import type { BmcDriver } from '../drivers/types.js';
import type { DriverRegistry } from '../drivers/registry.js';
import type { ResponseOutcome } from './connection.js';
import { PerServerLimiter, ServerQueueFullError } from './per-server-limiter.js';

const ServerParams = Type.Object({ serverId: Type.String({ minLength: 1, maxLength: 63 }) });

/**
 * One entry per BMC control operation: its params schema and the driver call.
 * Other ops (the stream plane's `stream.*`) come from OperationHandlers given
 * to the dispatcher; an op found in neither is answered with BMC_UNSUPPORTED,
 * never ignored.
 */
const DRIVER_OPERATIONS: Partial<Record<ControlOperation, { params: TSchema; run: (driver: BmcDriver, params: Record<string, unknown>) => Promise<unknown> }>> = {
  'power.get': { params: ServerParams, run: (driver) => driver.powerGet() },
  'power.set': {
    params: Type.Object({ serverId: Type.String(), action: PowerAction }),
    run: (driver, params) => driver.powerSet(params['action'] as PowerAction),
  },
  'boot.get': { params: ServerParams, run: (driver) => driver.bootGet() },
  'boot.set': {
    params: Type.Object({ serverId: Type.String(), device: BootOverride.properties.device, persistent: Type.Optional(Type.Boolean()), uefi: Type.Optional(Type.Boolean()) }),
    run: (driver, params) =>
      driver.bootSet({
        device: params['device'] as BootOverride['device'],
        persistent: params['persistent'] === true,
        // absent: keep the BMC's boot mode
        ...(typeof params['uefi'] === 'boolean' ? { uefi: params['uefi'] } : {}),
      }),
  },
  'sensors.list': { params: ServerParams, run: (driver) => driver.sensors() },
  'identity.get': { params: ServerParams, run: (driver) => driver.identity() },
  'sel.list': { params: ServerParams, run: (driver) => driver.sel() },
  'sel.clear': { params: ServerParams, run: (driver) => driver.selClear().then(() => ({})) },
};

/**
 * A non-driver control op: validates its own params, rejects with a LightsoutError. `timeoutCode`
 * names what an op still unfinished at its deadline is waiting for: BMC_TIMEOUT (the default, a BMC
 * that did not answer) or AGENT_TIMEOUT (the agent's own work, which the caller may retry).
 * `settled` aborts once the call is answered, at its deadline at the latest: work still queued then
 * (a dial-back waiting its turn) is given up, not done for a caller that has stopped waiting.
 */
export type OperationHandler = ((params: Record<string, unknown>, request: RequestMessage, settled: AbortSignal) => Promise<unknown>) & { timeoutCode?: TimeoutCode };
export type TimeoutCode = 'BMC_TIMEOUT' | 'AGENT_TIMEOUT';
export type OperationHandlers = Partial<Record<ControlOperation, OperationHandler>>;

export function errorBodyOf(error: unknown): ErrorBody {
  if (error instanceof LightsoutError) return error.toBody();
  // A driver bug must not leak stack traces or internals upstream; the log keeps the detail.
  return { code: 'INTERNAL', message: 'the agent failed to run the operation' };
}

/** Rejects with `code` (BMC_TIMEOUT unless told otherwise) after `timeoutMs`; the timer never outlives the call. */
export async function withTimeout<T>(work: Promise<T>, timeoutMs: number, what: string, code: TimeoutCode = 'BMC_TIMEOUT'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new LightsoutError(code, `${what} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The abort reason of a call that settled (not an error: nobody reads it). */
const SETTLED = Symbol('settled');

export interface DispatcherOptions {
  registry: DriverRegistry;
  /** Ceiling for one driver call, whatever the relay allows. */
  maxTimeoutMs: number;
  /** Ops answered by something other than a BMC driver (e.g. stream.open). */
  handlers?: OperationHandlers;
  /** Every failed request but a refusal of a full server queue (the limiter's onFull reports a burst of those once). */
  onError?: (request: RequestMessage, error: unknown) => void;
  /** Driver operations running at once on one server; default DEFAULT_OPERATIONS_PER_SERVER. */
  operationsPerServer?: number;
  /** Shared with the sensor sampler, which leaves a server to its users; else the dispatcher's own. */
  perServer?: PerServerLimiter;
}

/**
 * A BMC's management controller answers one command at a time in practice,
 * so more operations in flight on one server buy little; two keep it busy
 * while one server's backlog costs the agent (CPU, shared session pool
 * slots) no more than two operations' worth.
 */
export const DEFAULT_OPERATIONS_PER_SERVER = 2;

/**
 * The agent gives up a little before the relay does, so the caller gets the
 * BMC's error (BMC_TIMEOUT) instead of the relay's AGENT_TIMEOUT.
 */
export function effectiveTimeoutMs(requestTimeoutMs: number, maxTimeoutMs: number): number {
  const margin = Math.min(1000, Math.floor(requestTimeoutMs / 10));
  return Math.max(1, Math.min(maxTimeoutMs, requestTimeoutMs - margin));
}

/** Turns control `request`s into driver calls; every failure becomes {code, message}. */
export function createDispatcher(options: DispatcherOptions): (request: RequestMessage) => Promise<ResponseOutcome> {
  const { registry, maxTimeoutMs } = options;
  const perServer = options.perServer ?? new PerServerLimiter(options.operationsPerServer ?? DEFAULT_OPERATIONS_PER_SERVER);
  return async (request) => {
    // Aborted once the call settles: a handler's or the server queue's waiter whose deadline passed leaves unrun.
    const settled = new AbortController();
    try {
      const timeoutMs = effectiveTimeoutMs(request.timeoutMs, maxTimeoutMs);
      const handler = Object.hasOwn(options.handlers ?? {}, request.op) ? options.handlers![request.op as ControlOperation] : undefined;
      if (handler !== undefined) {
        return { ok: true, result: await withTimeout(handler(request.params, request, settled.signal), timeoutMs, request.op, handler.timeoutCode) };
      }
      const operation = Object.hasOwn(DRIVER_OPERATIONS, request.op) ? DRIVER_OPERATIONS[request.op as ControlOperation] : undefined;
      if (operation === undefined) {
        throw new LightsoutError('BMC_UNSUPPORTED', `this agent does not implement the operation ${request.op}`, { hint: 'upgrade the agent' });
      }
      if (!Value.Check(operation.params, request.params)) {
        const first = [...Value.Errors(operation.params, request.params)][0];
        throw new LightsoutError('BAD_REQUEST', `invalid params for ${request.op}: ${first ? `${first.instancePath || '/'} ${first.message}` : 'invalid'}`);
      }
      const serverId = request.params['serverId'] as string;
      if (!registry.hasServer(serverId)) throw new LightsoutError('NOT_FOUND', `this agent has no server ${serverId}`);
      const driver = registry.driverFor(serverId);
      if (driver === undefined) {
        throw new LightsoutError('BMC_UNSUPPORTED', `no driver on this agent can reach ${serverId}`, {
          hint: 'configure an ipmi or redfish endpoint for the server, or upgrade the agent to one with that driver',
        });
      }
      const result = await withTimeout(perServer.run(serverId, settled.signal, () => operation.run(driver, request.params)), timeoutMs, `${request.op} on ${serverId}`);
      return { ok: true, result };
    } catch (error) {
      if (!(error instanceof ServerQueueFullError)) options.onError?.(request, error);
      return { ok: false, error: errorBodyOf(error) };
    } finally {
      // With a reason: abort() without one builds a DOMException (a stack trace) on every call.
      settled.abort(SETTLED);
    }
  };
}
