import type { BmcEndpoints, Capability, ServerRegistration } from '@lightsout/shared';
import type { ServerEntry } from './config/types.js';

/** Removes `user:password@` from a URL: addresses travel upstream, credentials never do. */
export function withoutUserInfo(address: string): string {
  // `user:pw@host:5900` parses as a URL with scheme `user:`; only `scheme://` forms are URLs here.
  if (!address.includes('://')) return address.includes('@') ? address.slice(address.lastIndexOf('@') + 1) : address;
  try {
    const url = new URL(address);
    if (url.username === '' && url.password === '') return address;
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    // Not a URL (e.g. `host:5900`): it cannot carry user info in a form we recognise.
    return address.includes('@') ? address.slice(address.lastIndexOf('@') + 1) : address;
  }
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** What each endpoint lets the relay offer; order is stable so inventories compare equal. */
const CAPABILITY_ORDER: readonly Capability[] = ['power', 'boot', 'sensors', 'sel', 'sol', 'serial', 'vnc', 'media', 'web'];

export function capabilitiesOf(server: ServerEntry): Capability[] {
  const capabilities = new Set<Capability>();
  if (server.ipmi) for (const capability of ['power', 'boot', 'sensors', 'sel', 'sol'] as const) capabilities.add(capability);
  if (server.redfish) for (const capability of ['power', 'boot', 'sensors', 'sel', 'media'] as const) capabilities.add(capability);
  if (server.vnc) capabilities.add('vnc');
  if (server.serial) capabilities.add('serial');
  if (server.web) capabilities.add('web');
  return CAPABILITY_ORDER.filter((capability) => capabilities.has(capability));
}

/** The `inventory` entry for one configured server: addresses only, never credentials. */
export function registrationOf(server: ServerEntry): ServerRegistration {
  const endpoints: BmcEndpoints = {};
  if (server.ipmi) endpoints.ipmi = hostPort(server.ipmi.host, server.ipmi.port);
  if (server.redfish) endpoints.redfish = withoutUserInfo(server.redfish.url);
  if (server.vnc) endpoints.vnc = withoutUserInfo(server.vnc.url);
  if (server.serial) endpoints.serial = withoutUserInfo(server.serial.url);
  if (server.web) endpoints.web = withoutUserInfo(server.web.url);
  const registration: ServerRegistration = {
    id: server.id,
    name: server.name,
    tenant: server.tenant,
    rack: server.rack,
    endpoints,
    capabilities: capabilitiesOf(server),
  };
  if (Object.keys(server.labels).length > 0) registration.labels = { ...server.labels };
  return registration;
}
