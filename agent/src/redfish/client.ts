import { setTimeout as delay } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { fetch } from 'undici';
import { LightsoutError } from '@lightsout/shared';
import { CredentialGate } from '../drivers/credential-gate.js';
import type { BmcCredentials } from '../drivers/types.js';
import { type JsonObject, linkAt, objectAt, parseJsonObject, redfishErrorSummary } from './json.js';

/**
 * HTTP client for one BMC's Redfish service (DSP0266). Owns the login state:
 *
 *   anonymous ──login()──▶ logging-in ──201 + X-Auth-Token──▶ session
 *                               │ no SessionService / no token ──▶ basic
 *   session ──401 on a request──▶ anonymous (re-login once, retry once)
 *   any ──close()──▶ closed (DELETE the session; later calls fail)
 *
 * `X-Requested-With` is never sent: bmcweb answers such requests with a
 * cookie session instead of a token (protocol notes §4).
 */
export const SERVICE_ROOT = '/redfish/v1/'; // DSP0266 §6.2: the one fixed URI

export interface RedfishClientOptions {
  /** Scheme, host and port of the BMC, e.g. `https://10.0.0.5`. */
  baseUrl: string;
  credentials: BmcCredentials;
  dispatcher: Dispatcher;
  /** Per request, headers to the end of the body. */
  timeoutMs?: number;
  /** Extra attempts for idempotent requests after a network error, timeout or 502/503/504. */
  retries?: number;
  maxBodyBytes?: number;
  /** `basic` skips SessionService (some BMCs throttle session creation). */
  auth?: 'session' | 'basic';
  /**
   * Holds off logins after the BMC rejected the credentials (the same gate
   * as IPMI's): every session login, and every Basic-authenticated request
   * (each one is a login to the BMC), goes through it.
   */
  credentialGate?: CredentialGate;
}

export interface RedfishResponse {
  status: number;
  body: JsonObject | undefined;
  /** ETag header, else `@odata.etag` from the body (DSP0266 §13.2.8). */
  etag: string | undefined;
  location: string | undefined;
  /** The path that answered, after any redirects. */
  path: string;
}

export interface RequestOptions {
  body?: JsonObject;
  ifMatch?: string;
  /** Overrides the client's timeout for this request (InsertMedia: some BMCs read the image before answering). */
  timeoutMs?: number;
  /** How long a request the BMC accepted as a task (202) may run before it is reported timed out. */
  taskTimeoutMs?: number;
}

type AuthState =
  | { kind: 'anonymous' }
  | { kind: 'logging-in'; done: Promise<void> }
  | { kind: 'session'; token: string; location: string | undefined }
  | { kind: 'basic' }
  | { kind: 'closed' };

const IDEMPOTENT = new Set(['GET', 'HEAD', 'DELETE']);
const RETRYABLE_STATUS = new Set([502, 503, 504]);
/** 301/302/303 change a request into GET (RFC 9110 §15.4): only GETs follow them; 307/308 keep the method and body. */
const REDIRECT_FOR_GET = new Set([301, 302, 303, 307, 308]);
const REDIRECT_KEEPING_METHOD = new Set([307, 308]);
const MAX_REDIRECTS = 3;
/** How long an accepted task (202) is waited for, unless the request says otherwise. */
const TASK_WAIT_MS = 120_000;
/** DSP2046 Task.TaskState values of a task that has not ended. */
const TASK_RUNNING = new Set(['New', 'Starting', 'Running', 'Suspended', 'Interrupted', 'Pending', 'Stopping', 'Cancelling', 'Service']);
/**
 * Answers to the session login that mean "no SessionService here, not this
 * way, or broken" (a 500 to a well-formed login): Basic auth is what is left.
 * Anything else (a 503 from an iDRAC whose session slots are full, a 429, a
 * proxy's 502 or 504) is the BMC's answer for now, not a reason to give up
 * sessions for good and send the password with every request.
 */
const NO_SESSIONS_HERE = new Set([400, 404, 405, 415, 500, 501]);

export class RedfishClient {
  private readonly options: Required<Omit<RedfishClientOptions, 'auth' | 'credentialGate'>> & { auth: 'session' | 'basic' };
  readonly credentialGate: CredentialGate;
  private state: AuthState = { kind: 'anonymous' };
  private serviceRootCache: JsonObject | undefined;
  /** The dispatcher with its timeouts set to a request's deadline, by deadline (a few distinct ones). */
  private readonly dispatchers = new Map<number, Dispatcher>();
  /** How many times a session was re-established after a 401 (diagnostics, tests). */
  relogins = 0;

  constructor(options: RedfishClientOptions) {
    const { credentialGate, ...rest } = options;
    this.options = { timeoutMs: 15_000, retries: 2, maxBodyBytes: 4 * 1024 * 1024, auth: 'session', ...rest };
    this.credentialGate = credentialGate ?? new CredentialGate();
    this.options.baseUrl = this.options.baseUrl.replace(/\/+$/, '');
  }

  get authMode(): AuthState['kind'] {
    return this.state.kind;
  }

  /** The service root; readable without credentials (DSP0266 §13.3.1), cached. */
  async serviceRoot(): Promise<JsonObject> {
    if (!this.serviceRootCache) {
      const response = await this.send('GET', SERVICE_ROOT, {}, undefined);
      this.serviceRootCache = this.expectBody(response, 'GET', SERVICE_ROOT);
    }
    return this.serviceRootCache;
  }

  async get(path: string): Promise<RedfishResponse & { body: JsonObject }> {
    const response = await this.request('GET', path);
    return { ...response, body: this.expectBody(response, 'GET', path) };
  }

  async request(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, options: RequestOptions = {}): Promise<RedfishResponse> {
    // while the credentials are held off, nothing reaches the BMC: every request would be a login to it
    this.credentialGate.check();
    await this.ensureLoggedIn();
    let response = await this.sendAuthenticated(method, path, options);
    if (response.status === 401 && this.state.kind === 'session') {
      // the BMC dropped our session (timeout, BMC reboot, session limit): log in again, once
      this.state = { kind: 'anonymous' };
      this.relogins += 1;
      await this.ensureLoggedIn();
      response = await this.sendAuthenticated(method, path, options);
    }
    if (response.status >= 400) throw this.httpError(method, path, response);
    // A redirect this method does not follow (send()): the operation was not done here, whatever the status says.
    if (response.status >= 300) {
      throw new LightsoutError('BMC_PROTOCOL_ERROR', `BMC answered ${method} ${path} with ${response.status}, a redirect the request was not sent on to`, {
        details: { status: response.status, method, path, location: response.location },
      });
    }
    if (response.status === 202 && method !== 'GET' && response.location !== undefined) return this.awaitTask(method, path, response, options.taskTimeoutMs ?? TASK_WAIT_MS);
    return response;
  }

  /**
   * DSP0266 §12.2 (asynchronous operations): 202 Accepted with a task monitor
   * in Location. The monitor answers 202 while the operation runs and, once it
   * is done, the operation's own answer (an error status when it failed). Some
   * BMCs link a Task resource instead (iDRAC's JID_… jobs), which answers 200
   * with its TaskState. The operation is reported done only once one of them
   * says so; a failed one is the operation's error.
   */
  private async awaitTask(method: string, path: string, accepted: RedfishResponse, waitMs: number): Promise<RedfishResponse> {
    const monitor = accepted.location!;
    const deadline = Date.now() + waitMs;
    for (let round = 0; ; round += 1) {
      if (Date.now() >= deadline) {
        throw new LightsoutError('BMC_TIMEOUT', `BMC accepted ${method} ${path} as a task and it did not finish within ${Math.round(waitMs / 1000)} s`, { details: { method, path, monitor } });
      }
      await delay(Math.min(250 * 2 ** round, 2_000));
      const answer = await this.sendAuthenticated('GET', monitor, {});
      if (answer.status === 202) continue;
      if (answer.status >= 400) {
        // A monitor may be gone once its task is done and read (404): the outcome is the caller's to observe.
        if (answer.status === 404 && round > 0) return { ...accepted, status: 204, body: undefined };
        throw this.httpError(method, path, answer);
      }
      const state = typeof answer.body?.TaskState === 'string' ? answer.body.TaskState : undefined;
      if (state === undefined) return answer;
      if (TASK_RUNNING.has(state)) continue;
      if (state === 'Completed' && answer.body?.TaskStatus !== 'Critical') return answer;
      const { messageIds, messages } = redfishErrorSummary(answer.body);
      throw new LightsoutError('BMC_PROTOCOL_ERROR', `BMC's task for ${method} ${path} ended ${state}${messages[0] ? `: ${messages[0]}` : ''}`, {
        details: { method, path, monitor, taskState: state, taskStatus: answer.body?.TaskStatus, messageIds, messages },
      });
    }
  }

  /**
   * With a session token the login was the POST to Sessions (gated there);
   * with Basic every request carries the password, so a 401 to it is a
   * rejected login and counts at the gate.
   */
  private async sendAuthenticated(method: string, path: string, options: RequestOptions): Promise<RedfishResponse> {
    if (this.state.kind !== 'basic') return this.send(method, path, options, this.authorization());
    return this.credentialGate.login(async () => {
      const response = await this.send(method, path, options, this.authorization());
      if (response.status === 401) throw this.httpError(method, path, response);
      return response;
    });
  }

  /** Logs out (DELETE on the session's Location). Idempotent. */
  async close(): Promise<void> {
    const previous = this.state;
    this.state = { kind: 'closed' };
    // A login in flight may still create a session: login() logs that one out itself; it is over once the login is.
    if (previous.kind === 'logging-in') return previous.done.catch(() => undefined);
    if (previous.kind !== 'session' || !previous.location) return;
    await this.logOut(previous.token, previous.location);
  }

  private async logOut(token: string, location: string): Promise<void> {
    const response = await this.send('DELETE', location, {}, { 'X-Auth-Token': token }).catch((error: unknown) => error);
    if (response instanceof Error) throw new LightsoutError(codeOf(response), 'could not log out of the BMC session', { cause: response });
  }

  /** login() settles the state after awaiting the BMC, and close() may have come meanwhile: nothing leaves 'closed'. */
  private settle(state: Extract<AuthState, { kind: 'basic' | 'session' }>): void {
    if (this.state.kind !== 'closed') this.state = state;
  }

  private authorization(): Record<string, string> {
    const { state } = this;
    if (state.kind === 'session') return { 'X-Auth-Token': state.token };
    const { username, password } = this.options.credentials;
    return { Authorization: `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}` };
  }

  private async ensureLoggedIn(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const { state } = this;
      if (state.kind === 'closed') throw new LightsoutError('INTERNAL', 'Redfish client used after close');
      if (state.kind === 'session' || state.kind === 'basic') return;
      if (state.kind === 'logging-in') {
        await state.done;
        continue;
      }
      // login() runs after the state says logging-in: a login that settles at once (Basic) must not be overwritten by it
      const done = Promise.resolve()
        .then(() => this.login())
        .catch((error: unknown) => {
        if (this.state.kind === 'logging-in') this.state = { kind: 'anonymous' };
        throw error;
      });
      this.state = { kind: 'logging-in', done };
      await done;
    }
  }

  private async login(): Promise<void> {
    if (this.options.auth === 'basic') {
      this.settle({ kind: 'basic' });
      return;
    }
    const root = await this.serviceRoot();
    const sessionsPath = linkAt(objectAt(root, 'Links'), 'Sessions');
    if (!sessionsPath) {
      this.settle({ kind: 'basic' }); // no SessionService advertised: Basic is what is left (sushy does the same)
      return;
    }
    const { username, password } = this.options.credentials;
    const response = await this.credentialGate.login(async () => {
      const answer = await this.send('POST', sessionsPath, { body: { UserName: username, Password: password } }, undefined);
      if (answer.status === 401 || answer.status === 403) {
        throw new LightsoutError('BMC_AUTH_FAILED', `the BMC refused the credentials (HTTP ${answer.status} to the session login)`, { hint: 'Check the credentials configured for this server on the agent.' });
      }
      return answer;
    });
    const token = response.token;
    if (response.status >= 400 && !NO_SESSIONS_HERE.has(response.status)) throw this.httpError('POST', sessionsPath, response);
    if (response.status >= 400 || !token) {
      // SessionService missing or broken (404/405/501, or 2xx without a token): fall back to Basic
      this.settle({ kind: 'basic' });
      return;
    }
    const location = sessionUriOf(response, this.options.baseUrl);
    if (this.state.kind === 'closed') {
      // Closed while the BMC created it: a session left open holds one of the BMC's few slots until it times out.
      if (location) await this.logOut(token, location);
      return;
    }
    this.state = { kind: 'session', token, location };
  }

  private expectBody(response: RedfishResponse, method: string, path: string): JsonObject {
    if (!response.body) throw new LightsoutError('BMC_PROTOCOL_ERROR', `BMC sent no JSON body for ${method} ${path}`, { details: { status: response.status } });
    return response.body;
  }

  /**
   * Follows redirects on this service only (some BMCs serve a system by its
   * name through a redirect to its Id). Only the Location's path is used.
   */
  private async send(
    method: string,
    path: string,
    options: RequestOptions,
    auth: Record<string, string> | undefined,
  ): Promise<RedfishResponse & { token: string | undefined }> {
    let current = path;
    for (let hop = 0; ; hop += 1) {
      const response = await this.sendWithRetries(method, current, options, auth);
      const follows = method === 'GET' ? REDIRECT_FOR_GET : REDIRECT_KEEPING_METHOD;
      if (!follows.has(response.status) || response.location === undefined) return { ...response, path: current };
      if (hop >= MAX_REDIRECTS) throw new LightsoutError('BMC_PROTOCOL_ERROR', `${method} ${path}: more than ${MAX_REDIRECTS} redirects`);
      current = response.location;
    }
  }

  private async sendWithRetries(
    method: string,
    path: string,
    options: RequestOptions,
    auth: Record<string, string> | undefined,
  ): Promise<Omit<RedfishResponse, 'path'> & { token: string | undefined }> {
    const attempts = IDEMPOTENT.has(method) ? this.options.retries + 1 : 1;
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt += 1) {
      if (attempt > 0) await delay(150 * 2 ** (attempt - 1));
      try {
        const response = await this.sendOnce(method, path, options, auth);
        if (RETRYABLE_STATUS.has(response.status) && attempt + 1 < attempts) {
          lastError = this.httpError(method, path, response);
          continue;
        }
        return response;
      } catch (error) {
        lastError = error;
        // a certificate mismatch or a malformed body will not fix itself
        if (error instanceof LightsoutError && error.code !== 'BMC_TIMEOUT' && error.code !== 'BMC_UNREACHABLE') throw error;
      }
    }
    throw lastError;
  }

  private async sendOnce(
    method: string,
    path: string,
    options: RequestOptions,
    auth: Record<string, string> | undefined,
  ): Promise<Omit<RedfishResponse, 'path'> & { token: string | undefined }> {
    if (!path.startsWith('/')) throw new LightsoutError('BMC_PROTOCOL_ERROR', `BMC linked to ${JSON.stringify(path.slice(0, 80))}, which is not a path on this service`);
    const headers: Record<string, string> = { Accept: 'application/json', 'OData-Version': '4.0', ...auth };
    if (options.body) headers['Content-Type'] = 'application/json';
    if (options.ifMatch) headers['If-Match'] = options.ifMatch;
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    const signal = AbortSignal.timeout(timeoutMs);
    let response;
    try {
      response = await fetch(`${this.options.baseUrl}${path}`, {
        method,
        headers,
        ...(options.body ? { body: JSON.stringify(options.body) } : {}),
        dispatcher: this.dispatcherFor(timeoutMs),
        signal,
        redirect: 'manual',
      });
    } catch (error) {
      throw transportError(error, method, path, timeoutMs);
    }
    let text: string;
    try {
      text = await readCapped(response.body, this.options.maxBodyBytes, method, path);
    } catch (error) {
      throw error instanceof LightsoutError ? error : transportError(error, method, path, timeoutMs);
    }
    const contentType = response.headers.get('content-type') ?? '';
    const looksJson = text.length > 0 && (contentType.includes('json') || /^\s*[{[]/.test(text));
    const body = looksJson ? parseJsonObject(text, `${method} ${path}`) : undefined;
    const etagHeader = response.headers.get('etag') ?? undefined;
    const etagBody = typeof body?.['@odata.etag'] === 'string' ? (body['@odata.etag'] as string) : undefined;
    const location = response.headers.get('location') ?? undefined;
    const locationPath = location ? pathOf(location, this.options.baseUrl) : undefined;
    return {
      status: response.status,
      body,
      etag: etagHeader ?? etagBody,
      location: locationPath,
      token: response.headers.get('x-auth-token') ?? undefined,
    };
  }

  /**
   * The dispatcher's own header and body timeouts (undici: 300 s unless set)
   * would end a request the operation still waits for: a synchronous
   * InsertMedia that some BMCs (iDRAC, XCC) answer only once the image is
   * attached. They follow the request's deadline instead, short or long.
   */
  private dispatcherFor(timeoutMs: number): Dispatcher {
    let dispatcher = this.dispatchers.get(timeoutMs);
    if (!dispatcher) {
      dispatcher = this.options.dispatcher.compose((dispatch) => (dispatchOptions, handler) => dispatch({ ...dispatchOptions, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }, handler));
      this.dispatchers.set(timeoutMs, dispatcher);
    }
    return dispatcher;
  }

  private httpError(method: string, path: string, response: Omit<RedfishResponse, 'path'>): LightsoutError {
    const { messageIds, messages } = redfishErrorSummary(response.body);
    const status = response.status;
    const code =
      status === 401 || status === 403 ? 'BMC_AUTH_FAILED' : status === 404 || status === 405 || status === 501 ? 'BMC_UNSUPPORTED' : status === 409 || status === 503 ? 'BMC_BUSY' : 'BMC_PROTOCOL_ERROR';
    const summary = messages[0] ?? `HTTP ${status}`;
    return new LightsoutError(code, `BMC answered ${method} ${path} with ${status}: ${summary}`, {
      details: { status, method, path, messageIds, messages },
    });
  }
}

/**
 * Location may be absolute (`https://bmc/redfish/v1/…`, often with a host
 * name the agent does not use) or a path; keep the path. It is always asked
 * of this BMC: a redirect never sends a request, or credentials, elsewhere.
 * A relative one (`SessionService/Sessions/7`, as some BMCs answer a login)
 * is read against the service root, where such BMCs mean it, rather than the
 * request URI of RFC 9110 §10.2.2, which would nest it under the collection.
 */
function pathOf(location: string, baseUrl: string): string | undefined {
  try {
    const url = new URL(location, `${baseUrl}${SERVICE_ROOT}`);
    return url.pathname + url.search;
  } catch {
    return undefined;
  }
}

/**
 * The new session's URI, for the DELETE that logs out (DSP0266 §13.3.4):
 * Location, else the `@odata.id` of the session in the body, which some BMCs
 * (older bmcweb, Huawei iBMC, Dell PowerVault) send without a Location.
 * Without one the session would hold one of the BMC's few slots until it
 * timed out, one more each time the agent logs in.
 */
function sessionUriOf(response: Omit<RedfishResponse, 'path'>, baseUrl: string): string | undefined {
  if (response.location) return response.location;
  const id = response.body?.['@odata.id'];
  return typeof id === 'string' && id !== '' ? pathOf(id, baseUrl) : undefined;
}

async function readCapped(body: ReadableStream<Uint8Array> | null, maxBytes: number, method: string, path: string): Promise<string> {
  if (!body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      await body.cancel().catch(() => undefined);
      throw new LightsoutError('BMC_PROTOCOL_ERROR', `BMC response to ${method} ${path} exceeds ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function transportError(error: unknown, method: string, path: string, timeoutMs: number): LightsoutError {
  // undici wraps connector errors (our certificate check among them) in TypeError('fetch failed', { cause })
  for (let cause: unknown = error, depth = 0; cause && depth < 5; cause = (cause as { cause?: unknown }).cause, depth += 1) {
    if (cause instanceof LightsoutError) return cause;
  }
  // the request's own deadline (its signal, or the dispatcher timeouts set to it), not the connect timeout
  const deadlinePassed = someCause(error, ({ name, code }) => name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT');
  const what = deadlinePassed ? `no answer within ${timeoutMs >= 1000 ? `${timeoutMs / 1000} s` : `${timeoutMs} ms`} (${describe(error)})` : describe(error);
  return new LightsoutError(codeOf(error), `${method} ${path}: ${what}`, { cause: error });
}

function someCause(error: unknown, test: (cause: { name?: string; code?: string }) => boolean): boolean {
  for (let cause: unknown = error, depth = 0; cause && depth < 5; cause = (cause as { cause?: unknown }).cause, depth += 1) {
    if (test(cause as { name?: string; code?: string })) return true;
  }
  return false;
}

function codeOf(error: unknown): 'BMC_TIMEOUT' | 'BMC_UNREACHABLE' {
  const timedOut = someCause(
    error,
    ({ name, code }) => name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT',
  );
  return timedOut ? 'BMC_TIMEOUT' : 'BMC_UNREACHABLE';
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
