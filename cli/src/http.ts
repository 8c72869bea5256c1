import { LightsoutError } from '@lightsout/shared';

/** Generous: a power cycle waits on the agent and the BMC behind it. */
export const REQUEST_TIMEOUT_MS = 60_000;

/** fetch that turns "could not connect" into a coded error naming the URL. */
export async function send(url: string, init: RequestInit = {}): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new LightsoutError('RELAY_UNREACHABLE', `cannot reach ${new URL(url).origin} (${reason})`, {
      hint: 'check the relay URL (--relay or LIGHTSOUT_RELAY) and that the relay is running',
      details: { url },
    });
  }
}

export async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A non-2xx relay answer as the LightsoutError its ErrorBody names. */
export async function errorOf(response: Response): Promise<LightsoutError> {
  const body = await readJson(response);
  const error = LightsoutError.fromBody(body);
  if (error.code === 'INTERNAL' && (typeof body !== 'object' || body === null || !('code' in body))) {
    return new LightsoutError(response.status === 404 ? 'NOT_FOUND' : response.status === 401 ? 'UNAUTHENTICATED' : 'INTERNAL', `the relay answered ${response.status} ${response.statusText}`);
  }
  return error;
}

/** POST application/x-www-form-urlencoded, as OAuth endpoints want (RFC 6749 §4.1.3). */
export async function postForm(url: string, fields: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await send(url, {
    ...(options.timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(options.timeoutMs) }),
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(fields).toString(),
  });
  const body = await readJson(response);
  return { status: response.status, body: typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {} };
}
