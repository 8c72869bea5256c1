import { describe, expect, it } from 'vitest';
import { describeAgent, describeBmcLink, describeGateway } from './servers.js';

describe('describeBmcLink', () => {
  it('says what the agent negotiated, or that the BMC rejected the credentials and when the agent tries again', () => {
    expect(describeBmcLink({ protocol: 'ipmi-v2.0', cipherSuite: 3 })).toBe('ipmi-v2.0, cipher suite 3');
    expect(describeBmcLink({ credentials: 'rejected', retryAt: '2026-12-05T02:00:00.000Z', error: { code: 'BMC_AUTH_FAILED', message: 'rejected' } })).toBe(
      'credentials rejected, next login 2026-12-05T02:00:00.000Z (lightsout servers retry-credentials)',
    );
    expect(describeBmcLink({ protocol: 'ipmi-v1.5', error: { code: 'BMC_TIMEOUT', message: 'BMC stopped answering' } })).toBe('ipmi-v1.5; last error BMC_TIMEOUT: BMC stopped answering');
    expect(describeBmcLink(null)).toBe('no report yet');
  });
});

describe('describeAgent, describeGateway', () => {
  const agent = { id: 'agt_1', state: 'online' as const, lastSeenAt: '2026-12-05T17:00:00.000Z', region: 'eu', datacenter: 'fra1' };

  it('names the agent and the gateway holding it; name, version and replica where the relay gave them (provider admins)', () => {
    const connection = { agent: { ...agent, name: 'fra1-a', version: '1.4.0' }, gateway: { replicaId: 'r-9', url: 'https://gw1.eu.example', region: 'eu-central' } };
    expect(describeAgent(connection)).toBe('fra1-a (agt_1) 1.4.0, online, last seen 2026-12-05T17:00:00.000Z, eu/fra1');
    expect(describeGateway(connection)).toBe('https://gw1.eu.example, region eu-central, replica r-9');
  });

  it('a tenant user\'s view: the agent by id; an offline agent has no gateway', () => {
    expect(describeAgent({ agent })).toBe('agt_1, online, last seen 2026-12-05T17:00:00.000Z, eu/fra1');
    expect(describeGateway({ agent: { ...agent, state: 'offline' } })).toBe('none (the agent is offline)');
    expect(describeGateway({ agent, gateway: { url: 'http://relay.test', region: null } })).toBe('http://relay.test');
  });
});
