import { startIpmiSim, type IpmiSimLab } from '@lightsout/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverBmc } from './discover.js';

let lab: IpmiSimLab;
beforeAll(async () => {
  lab = await startIpmiSim({ powered: false });
});
afterAll(async () => {
  await lab?.stop();
});

describe('discoverBmc against ipmi_sim', () => {
  it('gets an ASF pong, the auth capabilities and the advertised cipher suites (0–14, no 17)', async () => {
    const discovery = await discoverBmc(lab.host, lab.port);
    expect(discovery.asfPong).toBe(true);
    expect(discovery.capabilities).toMatchObject({ ipmi20: true, rmcpPlus: 'offered', authTypes: { md5: true, straight: true, none: false } });
    const ids = discovery.cipherSuites.map((suite) => suite.id);
    expect(ids).toContain(3);
    expect(ids).not.toContain(17);
    expect(discovery.cipherSuites.find((suite) => suite.id === 3)).toMatchObject({ authentication: 1, integrity: [1], confidentiality: [1] });
  });
});
