import { LightsoutError } from '@lightsout/shared';

/** First hold-off after a rejected login, and the ceiling of its doubling (BMCs lock accounts after a few failures). */
export const CREDENTIAL_BACKOFF = { baseMs: 60_000, capMs: 16 * 60_000 } as const;

export interface CredentialRejection {
  /** Logins refused in a row. */
  failures: number;
  /** Epoch ms before which no login is attempted. */
  retryAt: number;
  /** The BMC's refusal, as the driver reported it. */
  reason: string;
}

/**
 * Keeps a driver from logging in again and again with credentials the BMC
 * has rejected: after a BMC_AUTH_FAILED, logins are held off (1 min,
 * doubling to 16 min) and every attempt meanwhile fails at once with
 * BMC_AUTH_FAILED and `details.credentialsRejected`, without touching the
 * BMC. A successful login clears it; `retryNow()` (an admin asked, or the
 * agent's configuration changed) lets the next attempt through at once.
 */
export class CredentialGate {
  #rejection: CredentialRejection | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  get rejection(): CredentialRejection | undefined {
    return this.#rejection;
  }

  /** Throws while logins are held off; call before every login. */
  check(): void {
    const rejection = this.#rejection;
    if (rejection === undefined || this.now() >= rejection.retryAt) return;
    throw new LightsoutError('BMC_AUTH_FAILED', `the BMC rejected the configured credentials (${rejection.reason}); not logging in again before ${new Date(rejection.retryAt).toISOString()}`, {
      details: { credentialsRejected: true, retryAt: new Date(rejection.retryAt).toISOString(), failures: rejection.failures },
      hint: 'fix the BMC credentials in the agent configuration, then retry (lightsout server retry-credentials SERVER)',
    });
  }

  /** Runs one login through the gate: a rejection starts or extends the hold-off, a success clears it. */
  async login<T>(attempt: () => Promise<T>): Promise<T> {
    this.check();
    try {
      const result = await attempt();
      this.#rejection = undefined;
      return result;
    } catch (error) {
      if (error instanceof LightsoutError && error.code === 'BMC_AUTH_FAILED') {
        const failures = (this.#rejection?.failures ?? 0) + 1;
        const delay = Math.min(CREDENTIAL_BACKOFF.capMs, CREDENTIAL_BACKOFF.baseMs * 2 ** (failures - 1));
        this.#rejection = { failures, retryAt: this.now() + delay, reason: error.message };
      }
      throw error;
    }
  }

  /** The next login goes through at once (the hold-off is kept if it fails again, doubled). */
  retryNow(): void {
    if (this.#rejection !== undefined) this.#rejection = { ...this.#rejection, retryAt: this.now() };
  }
}
