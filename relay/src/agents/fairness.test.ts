import { describe, expect, it } from 'vitest';
import { LightsoutError } from '@lightsout/shared';
import { BmcOperationFairness, MAX_BUCKETS, TokenBuckets } from './fairness.js';

const limits = { perTenant: 3, perTenantPerAgent: 2, perToken: { perSecond: 1, burst: 2 }, perSubject: { perSecond: 2, burst: 4 }, perTenantRate: { perSecond: 5, burst: 6 } };

function refusal(run: () => unknown): LightsoutError {
  try {
    run();
  } catch (error) {
    if (error instanceof LightsoutError) return error;
    throw error;
  }
  throw new Error('admitted');
}

describe('BMC operation fairness', () => {
  it('bounds operations in flight per tenant on one agent and across agents; another tenant is unaffected', () => {
    const fairness = new BmcOperationFairness({ ...limits, perSubject: { perSecond: 100, burst: 100 }, perTenantRate: { perSecond: 100, burst: 100 } }, () => 0);
    const a1 = fairness.admit({ subject: 'u1', tenant: 'demo', agentId: 'agent-1' });
    fairness.admit({ subject: 'u1', tenant: 'demo', agentId: 'agent-1' });
    const onAgent = refusal(() => fairness.admit({ subject: 'u1', tenant: 'demo', agentId: 'agent-1' }));
    expect(onAgent).toMatchObject({ code: 'RATE_LIMITED', details: { scope: 'agent-concurrency', retryAfterSeconds: 1 } });
    fairness.admit({ subject: 'u1', tenant: 'demo', agentId: 'agent-2' });
    expect(refusal(() => fairness.admit({ subject: 'u1', tenant: 'demo', agentId: 'agent-3' })).details).toMatchObject({ scope: 'tenant-concurrency' });
    // Bravo has its own budget on the same agent.
    expect(() => fairness.admit({ subject: 'u2', tenant: 'bravo', agentId: 'agent-1' })).not.toThrow();
    a1();
    a1(); // releasing twice frees one slot, not two
    expect(fairness.inFlight('demo')).toBe(2);
    expect(fairness.inFlight('demo', 'agent-1')).toBe(1);
    expect(() => fairness.admit({ subject: 'u1', tenant: 'demo', agentId: 'agent-1' })).not.toThrow();
  });

  it('rate-limits per subject and per tenant with a burst, and says when to come back', () => {
    let now = 0;
    const fairness = new BmcOperationFairness({ ...limits, perTenant: 1000, perTenantPerAgent: 1000 }, () => now);
    for (let i = 0; i < 4; i++) fairness.admit({ subject: 'u1', tenant: 'demo', agentId: 'a' })();
    expect(refusal(() => fairness.admit({ subject: 'u1', tenant: 'demo', agentId: 'a' })).details).toMatchObject({ scope: 'caller-rate', retryAfterSeconds: 1 });
    // Another caller of the same tenant draws on the tenant's bucket (6): two more, then refused.
    fairness.admit({ subject: 'u2', tenant: 'demo', agentId: 'a' })();
    fairness.admit({ subject: 'u2', tenant: 'demo', agentId: 'a' })();
    expect(refusal(() => fairness.admit({ subject: 'u2', tenant: 'demo', agentId: 'a' })).details).toMatchObject({ scope: 'tenant-rate' });
    now += 1000;
    expect(() => fairness.admit({ subject: 'u2', tenant: 'demo', agentId: 'a' })).not.toThrow();
  });

  it('sheds by presented credential before verification', () => {
    let now = 0;
    const fairness = new BmcOperationFairness(limits, () => now);
    fairness.admitCredential('digest-1');
    fairness.admitCredential('digest-1');
    expect(refusal(() => fairness.admitCredential('digest-1'))).toMatchObject({ code: 'RATE_LIMITED', details: { scope: 'token-rate', retryAfterSeconds: 1 } });
    fairness.admitCredential('digest-2');
    now += 1000;
    fairness.admitCredential('digest-1');
  });

  it('keeps at most MAX_BUCKETS keys, however many credentials are presented', () => {
    const buckets = new TokenBuckets({ perSecond: 1, burst: 5 }, () => 0);
    for (let i = 0; i < MAX_BUCKETS * 2; i++) expect(buckets.take(`k${i}`)).toBe(0);
    expect(buckets.size).toBeLessThanOrEqual(MAX_BUCKETS);
  });
});
