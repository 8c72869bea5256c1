import { describe, expect, it } from 'vitest';
import { LightsoutError } from '@lightsout/shared';
import { mediaSettingsFrom } from './extension.js';

describe('media settings', () => {
  it('defaults to loopback with an ephemeral port and the documented limits', () => {
    expect(mediaSettingsFrom({}, {})).toEqual({ listenHost: '127.0.0.1', listenPort: 0, cacheBytes: 32 * 1024 ** 3, urlTtlSeconds: 12 * 3600, autoEjectSeconds: 6 * 3600 });
  });

  it('takes the config file section', () => {
    const settings = mediaSettingsFrom({ listen: '10.20.0.5:8081', publicUrl: 'http://198.51.100.7:8081', cacheBytes: 1024, urlTtlSeconds: 600, autoEjectSeconds: 0 }, {});
    expect(settings).toEqual({ listenHost: '10.20.0.5', listenPort: 8081, publicBaseUrl: 'http://198.51.100.7:8081', cacheBytes: 1024, urlTtlSeconds: 600, autoEjectSeconds: 0 });
  });

  it('lets the environment override the file, key by key', () => {
    const settings = mediaSettingsFrom({ listen: '10.20.0.5:8081', cacheBytes: 1024 }, { LIGHTSOUT_MEDIA_LISTEN: '[fd00::5]:9000', LIGHTSOUT_MEDIA_CACHE_BYTES: '2048' });
    expect(settings.listenHost).toBe('fd00::5');
    expect(settings.listenPort).toBe(9000);
    expect(settings.cacheBytes).toBe(2048);
  });

  it('refuses a malformed listen address or number with CONFIG_INVALID', () => {
    for (const run of [() => mediaSettingsFrom({}, { LIGHTSOUT_MEDIA_LISTEN: 'no-port' }), () => mediaSettingsFrom({}, { LIGHTSOUT_MEDIA_CACHE_BYTES: '-1' })]) {
      expect(run).toThrow(LightsoutError);
      try {
        run();
      } catch (error) {
        expect((error as LightsoutError).code).toBe('CONFIG_INVALID');
      }
    }
  });
});
