import { describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import { ServerRegistration } from '@lightsout/shared';
import type { ServerEntry } from './config/types.js';
import { registrationOf, withoutUserInfo } from './inventory.js';

const credentials = { username: 'admin', password: 'hunter2' };

describe('inventory registration', () => {
  it('sends addresses and derived capabilities, never credentials', () => {
    const server: ServerEntry = {
      id: 'web-01',
      name: 'web-01.fra1',
      tenant: 'demo',
      rack: 'r12',
      labels: { role: 'web' },
      ipmi: { host: 'fe80::1', port: 6230, credentials, cipherSuite: 17, privilege: 'operator', quirks: [] },
      redfish: { url: 'https://root:hunter2@10.0.0.5', credentials, tls: { insecure: true }, quirks: [] },
      vnc: { url: 'vnc://10.0.0.5:5900', credentials },
    };
    const registration = registrationOf(server);
    expect(registration).toEqual({
      id: 'web-01',
      name: 'web-01.fra1',
      tenant: 'demo',
      rack: 'r12',
      labels: { role: 'web' },
      endpoints: { ipmi: '[fe80::1]:6230', redfish: 'https://10.0.0.5/', vnc: 'vnc://10.0.0.5:5900' },
      capabilities: ['power', 'boot', 'sensors', 'sel', 'sol', 'vnc', 'media'],
    });
    expect(JSON.stringify(registration)).not.toContain('hunter2');
    expect(Value.Check(ServerRegistration, registration)).toBe(true);
  });

  it('derives only what the endpoints allow', () => {
    const serialOnly: ServerEntry = { id: 's', name: 's', tenant: 't', rack: 'r', labels: {}, serial: { url: 'ws://10.0.0.7/console0' } };
    expect(registrationOf(serialOnly)).toEqual({ id: 's', name: 's', tenant: 't', rack: 'r', endpoints: { serial: 'ws://10.0.0.7/console0' }, capabilities: ['serial'] });
  });

  it('strips user info from non-URL addresses too', () => {
    expect(withoutUserInfo('user:pw@10.0.0.5:5900')).toBe('10.0.0.5:5900');
    expect(withoutUserInfo('10.0.0.5:5900')).toBe('10.0.0.5:5900');
  });
});
