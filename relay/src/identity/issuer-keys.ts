import { LightsoutError } from '@lightsout/shared';
import { type JSONWebKeySet, type JWTVerifyGetKey, createLocalJWKSet, errors as joseErrors } from 'jose';

/** The parts of an OpenID Provider's discovery document (OpenID Connect Discovery 1.0 §3) the relay and its clients use. */
export interface IssuerDiscovery {
  issuer: string;
  jwks_uri: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  device_authorization_endpoint?: string;
  revocation_endpoint?: string;
  end_session_endpoint?: string;
}

export interface IssuerKeysStatus {
  /** The last attempt to read the discovery document and keys succeeded. */
  reachable: boolean;
  /** Keys are known (fetched at least once): tokens can be verified even while the issuer is unreachable. */
  keysKnown: boolean;
  /** Epoch ms of the last successful refresh. */
  lastSuccessAt?: number;
  /** Why the last attempt failed (for the log and readiness), when it did. */
  lastFailure?: string;
}

export interface IssuerKeysOptions {
  issuer: string;
  discoveryUrl?: string | undefined;
  /** Re-read discovery and keys this often; failed attempts retry sooner (1 s, doubling, capped at this). */
  refreshMs: number;
  fetchTimeoutMs?: number;
  /** Called after every attempt (metrics, log). */
  onAttempt?: (outcome: { ok: true } | { ok: false; error: unknown; url: string }) => void;
}

/** The issuer answered with a document for another issuer: a configuration error, not an outage. */
class IssuerMismatch extends LightsoutError {}

const unavailable = (issuer: string) =>
  new LightsoutError('ISSUER_UNAVAILABLE', `the identity provider ${issuer} cannot be reached to fetch its signing keys`, { hint: 'retry shortly; the relay retries by itself (see /readyz)' });

/**
 * An external issuer's signing keys, kept in memory and refreshed in the
 * background. Unlike a JWKS cache with a maximum age, a failed refresh never
 * drops the keys: tokens signed with a known key keep verifying through an
 * issuer outage, for as long as the tokens themselves are valid. An unknown
 * `kid` (a rotation) triggers one early refresh, at most once per cool-down,
 * so forged kids cannot make the relay hammer the issuer.
 */
export class IssuerKeys {
  readonly #options: IssuerKeysOptions;
  readonly #discoveryUrl: string;
  #discovery: IssuerDiscovery | undefined;
  #resolver: JWTVerifyGetKey | undefined;
  #status: IssuerKeysStatus = { reachable: false, keysKnown: false };
  #inflight: Promise<void> | undefined;
  #failures = 0;
  #lastError: unknown;
  #lastOnDemandAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: IssuerKeysOptions) {
    this.#options = options;
    this.#discoveryUrl = options.discoveryUrl ?? `${options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  }

  status(): IssuerKeysStatus {
    return { ...this.#status };
  }

  /** The last discovery document read, if any (the CSP and the CLI's login read its endpoints). */
  discovery(): IssuerDiscovery | undefined {
    return this.#discovery;
  }

  /**
   * First attempt, then the background schedule. An unreachable issuer is
   * not fatal (the relay starts and retries); a document that names another
   * issuer is a configuration error and is thrown.
   */
  async start(): Promise<void> {
    await this.#refresh();
    if (this.#lastError instanceof IssuerMismatch) throw this.#lastError;
    this.#schedule();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  /** For jose's jwtVerify. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (this.#resolver === undefined) {
      await this.#refreshOnDemand();
      if (this.#resolver === undefined) throw unavailable(this.#options.issuer);
    }
    try {
      return await this.#resolver(header, token);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw error;
      await this.#refreshOnDemand();
      // Not knowing the key while the issuer is away is "try again", not "forged".
      if (!this.#status.reachable) throw unavailable(this.#options.issuer);
      return this.#resolver(header, token);
    }
  };

  async #refreshOnDemand(): Promise<void> {
    const coolDownMs = Math.min(this.#options.refreshMs, 10_000);
    if (Date.now() - this.#lastOnDemandAt < coolDownMs) return this.#inflight;
    this.#lastOnDemandAt = Date.now();
    return this.#refresh();
  }

  #refresh(): Promise<void> {
    this.#inflight ??= this.#attempt().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #attempt(): Promise<void> {
    let url = this.#discoveryUrl;
    try {
      const discovery = (await this.#fetchJson(url)) as Partial<IssuerDiscovery>;
      if (discovery.issuer !== this.#options.issuer || typeof discovery.jwks_uri !== 'string') {
        throw new IssuerMismatch('CONFIG_INVALID', `discovery document ${url} does not describe issuer ${this.#options.issuer}`, { details: { key: 'identity.external.issuer' } });
      }
      url = discovery.jwks_uri;
      const jwks = (await this.#fetchJson(url)) as JSONWebKeySet;
      if (!Array.isArray(jwks.keys)) throw new Error(`${url} is not a JWK Set`);
      this.#discovery = discovery as IssuerDiscovery;
      this.#resolver = createLocalJWKSet(jwks);
      this.#status = { reachable: true, keysKnown: true, lastSuccessAt: Date.now() };
      this.#failures = 0;
      this.#lastError = undefined;
      this.#options.onAttempt?.({ ok: true });
    } catch (error) {
      this.#failures += 1;
      this.#lastError = error;
      const { lastSuccessAt } = this.#status;
      this.#status = { reachable: false, keysKnown: this.#resolver !== undefined, ...(lastSuccessAt === undefined ? {} : { lastSuccessAt }), lastFailure: describe(error) };
      this.#options.onAttempt?.({ ok: false, error, url });
    }
  }

  async #fetchJson(url: string): Promise<unknown> {
    const response = await fetch(url, { signal: AbortSignal.timeout(this.#options.fetchTimeoutMs ?? 5000), headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
    return response.json();
  }

  #schedule(): void {
    if (this.#closed) return;
    const delay = this.#failures === 0 ? this.#options.refreshMs : Math.min(this.#options.refreshMs, 1000 * 2 ** (this.#failures - 1));
    this.#timer = setTimeout(() => {
      void this.#refresh().finally(() => this.#schedule());
    }, delay);
    this.#timer.unref();
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: { code?: unknown; message?: unknown } }).cause;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : undefined;
  return detail === undefined ? error.message : `${error.message} (${detail})`;
}
