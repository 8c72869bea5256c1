import { LightsoutError } from '@lightsout/shared';

/**
 * Fairness of BMC operations between tenants. Every operation the relay
 * forwards to an agent (power, boot, sensors, SEL) holds one slot of its
 * tenant's budget while in flight:
 *   perTenant          slots across this relay process, whatever the agent;
 *   perTenantPerAgent  slots on one agent, so a tenant cannot fill an agent's
 *                      queue (agents serve several tenants' BMCs);
 * and starts only if token buckets allow it:
 *   perToken       per presented credential, checked before the credential
 *                  is verified (hashing it is cheap, verifying it is not):
 *                  a flood from one token is shed at a fraction of the cost
 *                  of serving it, so it cannot occupy the relay's event loop;
 *   perSubject     per user or service account, after verification;
 *   perTenantRate  per tenant, all its callers together.
 * Excess is refused at once with RATE_LIMITED (429) and a Retry-After,
 * never queued: a queue in front of a slow BMC is exactly where another
 * tenant's call used to wait behind a flood.
 */
export interface BmcOperationLimits {
  perTenant: number;
  perTenantPerAgent: number;
  perToken: RateLimit;
  perSubject: RateLimit;
  perTenantRate: RateLimit;
}

export interface RateLimit {
  /** Sustained operations per second. */
  perSecond: number;
  /** Operations allowed at once before the rate applies. */
  burst: number;
}

/** Most keys a bucket map keeps. */
export const MAX_BUCKETS = 10_000;

/** Token buckets by key; time is injected so tests need no clock. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token; returns 0 when allowed, else the seconds until one is available. */
  take(key: string): number {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.limit.burst, at: now };
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.buckets.set(key, bucket);
      return Math.max(1, Math.ceil((1 - bucket.tokens) / this.limit.perSecond));
    }
    bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    if (this.buckets.size > MAX_BUCKETS) this.evict(now);
    return 0;
  }

  /** Seconds until `key` has a token (0: now), without taking one. */
  wait(key: string): number {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return 0;
    const tokens = Math.min(this.limit.burst, bucket.tokens + ((this.now() - bucket.at) / 1000) * this.limit.perSecond);
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.limit.perSecond));
  }

  /** Gives back a token taken for an operation that was then refused elsewhere. */
  refund(key: string): void {
    const bucket = this.buckets.get(key);
    if (bucket !== undefined) bucket.tokens = Math.min(this.limit.burst, bucket.tokens + 1);
  }

  get size(): number {
    return this.buckets.size;
  }

  /**
   * Back to 90 % of the bound, so the O(n) sweep runs at most once per
   * MAX_BUCKETS / 10 new keys: full buckets first (forgetting them changes
   * nothing), then the least recently inserted (a forgotten key starts full
   * again, which errs toward serving).
   */
  private evict(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond >= this.limit.burst) this.buckets.delete(key);
    }
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= MAX_BUCKETS * 0.9) break;
      this.buckets.delete(key);
    }
  }
}

/** In-flight counts by key. */
class InFlight {
  private readonly counts = new Map<string, number>();
  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }
  add(key: string): void {
    this.counts.set(key, this.count(key) + 1);
  }
  remove(key: string): void {
    const next = this.count(key) - 1;
    if (next <= 0) this.counts.delete(key);
    else this.counts.set(key, next);
  }
}

/** Seconds a caller refused for concurrency is told to wait: about one BMC round of operations. */
const BUSY_RETRY_AFTER_SECONDS = 1;

export function rateLimited(message: string, retryAfterSeconds: number, scope: string): LightsoutError {
  return new LightsoutError('RATE_LIMITED', message, {
    hint: `retry after ${retryAfterSeconds} s; limits are per tenant and per caller (docs/security.md)`,
    details: { retryAfterSeconds, scope },
  });
}

export class BmcOperationFairness {
  private readonly tenants = new InFlight();
  private readonly tenantAgents = new InFlight();
  private readonly tokens: TokenBuckets;
  private readonly subjects: TokenBuckets;
  private readonly tenantRates: TokenBuckets;
  /** Bulk operations waiting for a slot: woken (all of them, they re-check) by every release. */
  private releaseWaiters: Array<() => void> = [];

  constructor(
    private readonly limits: BmcOperationLimits,
    now: () => number = Date.now,
  ) {
    this.tokens = new TokenBuckets(limits.perToken, now);
    this.subjects = new TokenBuckets(limits.perSubject, now);
    this.tenantRates = new TokenBuckets(limits.perTenantRate, now);
  }

  /**
   * Before authentication: one token from the presented credential's bucket
   * (`credentialKey` is a digest of it, never the credential). Throws RATE_LIMITED.
   */
  admitCredential(credentialKey: string): void {
    const wait = this.tokens.take(credentialKey);
    if (wait > 0) throw rateLimited(`more than ${this.limits.perToken.perSecond} BMC operations per second with this credential`, wait, 'token-rate');
  }

  /**
   * Admit one operation by `subject` on a server of `tenant` owned by
   * `agentId`; returns the release to call when it settles. Throws
   * RATE_LIMITED with details.retryAfterSeconds.
   */
  admit(operation: { subject: string; tenant: string; agentId: string }): () => void {
    const { subject, tenant, agentId } = operation;
    const tenantAgent = `${tenant}\u0000${agentId}`;
    if (this.tenants.count(tenant) >= this.limits.perTenant) {
      throw rateLimited(`tenant ${tenant} already has ${this.limits.perTenant} BMC operations in flight`, BUSY_RETRY_AFTER_SECONDS, 'tenant-concurrency');
    }
    if (this.tenantAgents.count(tenantAgent) >= this.limits.perTenantPerAgent) {
      throw rateLimited(`tenant ${tenant} already has ${this.limits.perTenantPerAgent} BMC operations in flight on this agent`, BUSY_RETRY_AFTER_SECONDS, 'agent-concurrency');
    }
    const subjectWait = this.subjects.take(subject);
    if (subjectWait > 0) throw rateLimited(`more than ${this.limits.perSubject.perSecond} BMC operations per second from this caller`, subjectWait, 'caller-rate');
    const tenantWait = this.tenantRates.take(tenant);
    if (tenantWait > 0) {
      this.subjects.refund(subject);
      throw rateLimited(`more than ${this.limits.perTenantRate.perSecond} BMC operations per second in tenant ${tenant}`, tenantWait, 'tenant-rate');
    }
    return this.hold(tenant, tenantAgent);
  }

  /**
   * One operation of a bulk job: the same tenant and tenant-on-agent slots
   * as a single request, so a job never holds more than its tenant's share
   * of an agent. No rate token: the job was one request, rate-limited as
   * such. Never throws: undefined when the slots are full, and the job waits
   * (whenReleased) instead of failing with RATE_LIMITED.
   */
  tryAdmitQueued(operation: { tenant: string; agentId: string }): (() => void) | undefined {
    const tenantAgent = `${operation.tenant}\u0000${operation.agentId}`;
    if (this.tenants.count(operation.tenant) >= this.limits.perTenant) return undefined;
    if (this.tenantAgents.count(tenantAgent) >= this.limits.perTenantPerAgent) return undefined;
    return this.hold(operation.tenant, tenantAgent);
  }

  /** Resolves at the next release of any slot. */
  whenReleased(): Promise<void> {
    return new Promise((resolve) => this.releaseWaiters.push(resolve));
  }

  private hold(tenant: string, tenantAgent: string): () => void {
    this.tenants.add(tenant);
    this.tenantAgents.add(tenantAgent);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.tenants.remove(tenant);
      this.tenantAgents.remove(tenantAgent);
      if (this.releaseWaiters.length > 0) {
        const waiters = this.releaseWaiters;
        this.releaseWaiters = [];
        for (const wake of waiters) wake();
      }
    };
  }

  inFlight(tenant: string, agentId?: string): number {
    return agentId === undefined ? this.tenants.count(tenant) : this.tenantAgents.count(`${tenant}\u0000${agentId}`);
  }
}
