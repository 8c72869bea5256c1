import { LightsoutError } from '@lightsout/shared';
import { describe, expect, it } from 'vitest';
import { adoptErrorText, draftProblem, protocolsText, serverIdFromName, vendorModel } from './discovered-model.js';

const draft = { name: 'web-17', serverId: '', tenant: 'demo', rack: '', credentials: 'lab' };
const context = { agentName: 'fra1-agent', credentials: 'lab', tenant: 'bravo' };

describe('the Discovered BMCs screen', () => {
  it('describes what a BMC answered', () => {
    expect(vendorModel({ vendor: 'Contoso', model: 'BMC 9' })).toBe('Contoso BMC 9');
    expect(vendorModel({})).toBe('—');
    expect(protocolsText({ protocols: ['ipmi', 'redfish'], ipmi: { port: 623, asf: true, ipmi15: true, ipmi20: true, authTypes: [] }, redfish: { port: 443, redfishVersion: '1.15.0', fingerprint256: 'a'.repeat(64) } })).toBe('IPMI 2.0, Redfish 1.15.0');
    expect(protocolsText({ protocols: ['ipmi'] })).toBe('IPMI');
  });

  it('derives the server id from the name as the relay does, and says what is missing before sending', () => {
    expect(serverIdFromName('Web-17')).toBe('web-17');
    expect(serverIdFromName('web 17')).toBeUndefined();
    expect(draftProblem(draft)).toBeUndefined();
    expect(draftProblem({ ...draft, name: 'web 17' })).toMatch(/give a server id too/);
    expect(draftProblem({ ...draft, name: 'web 17', serverId: 'web-17' })).toBeUndefined();
    expect(draftProblem({ ...draft, credentials: '' })).toMatch(/credential set/);
    expect(draftProblem({ ...draft, tenant: '' })).toMatch(/tenant/);
  });

  it('puts every refusal of an adoption in words with what to do', () => {
    expect(adoptErrorText(new LightsoutError('CREDENTIALS_UNKNOWN', "this agent's config has no credential set lab"), context)).toBe('Agent fra1-agent has no credential set called “lab”. Use the id of an entry under credentials in its config; the password stays on the agent.');
    expect(adoptErrorText(new LightsoutError('FORBIDDEN', 'agent fra1-agent may register servers into demo, not bravo'), context)).toMatch(/^Agent fra1-agent may not register servers into tenant bravo\. Add the tenant to the agent/);
    expect(adoptErrorText(new LightsoutError('AGENT_OFFLINE', 'no'), context)).toMatch(/is not connected/);
    expect(adoptErrorText(new LightsoutError('CONFLICT', 'a server web-17 exists already'), context)).toBe('Already taken: a server web-17 exists already. Choose another server id, or refresh the list.');
    expect(adoptErrorText(new LightsoutError('BMC_TIMEOUT', 'the BMC did not answer'), context)).toBe('the BMC did not answer (BMC_TIMEOUT)');
  });
});
