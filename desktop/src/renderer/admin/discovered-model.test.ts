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
    // The agent's own refusals name their reason: not the relay's tenant check.
    const outOfRange = new LightsoutError('FORBIDDEN', 'credential set lab may be used only in 10.0.4.0/24, and 10.9.0.66 is not in it', { details: { reason: 'CREDENTIALS_OUT_OF_RANGE' } });
    expect(adoptErrorText(outOfRange, context)).toMatch(/^Agent fra1-agent may not send credential set “lab” to this address: .*\(credential set lab may be used only in 10\.0\.4\.0\/24/);
    expect(adoptErrorText(new LightsoutError('FORBIDDEN', 'the BMC at 10.0.4.9 offers only IPMI v1.5', { details: { reason: 'IPMI_V15_NOT_ALLOWED' } }), context)).toMatch(/^This BMC offers only IPMI v1\.5, which credential set “lab” does not allow/);
    expect(adoptErrorText(new LightsoutError('AGENT_OFFLINE', 'no'), context)).toMatch(/is not connected/);
    expect(adoptErrorText(new LightsoutError('CONFLICT', 'a server web-17 exists already'), context)).toBe('Already taken: a server web-17 exists already. Choose another server id, or refresh the list.');
    expect(adoptErrorText(new LightsoutError('BMC_TIMEOUT', 'the BMC did not answer'), context)).toBe('the BMC did not answer (BMC_TIMEOUT)');
  });
});
