import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadConfig } from './load.js';

describe('agent.example.yaml', () => {
  it('is a valid configuration, so the README example never rots', () => {
    const config = loadConfig(fileURLToPath(new URL('../../agent.example.yaml', import.meta.url)), { BMC_LAB_PASSWORD: 'x' });
    expect(config.servers.map((server) => server.id)).toEqual(['web-01', 'web-02']);
  });
});
