import { join } from 'node:path';
import Type, { type TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { LightsoutError, MEDIA_URL_MAX_LENGTH, type MediaFetchUrlParams, SHA256_HEX_PATTERN } from '@lightsout/shared';
import type { AgentContext, AgentExtension, AgentExtensionFactory } from '../agent.js';
import type { AgentConfig } from '../config/types.js';
import type { OperationHandler } from '../control/dispatcher.js';
import { createRedfishDriver } from '../redfish/index.js';
import { type MediaServiceOptions, MediaService, isVirtualMediaDriver } from './service.js';
import type { VirtualMediaDriver } from './types.js';
import type { BmcDriver } from '../drivers/types.js';

/**
 * Virtual media as an agent extension: the media cache and server start with
 * the agent and answer the `media.*` control ops. Settings come from the
 * agent config's `media:` section; each can be overridden by the environment
 * (handy in containers):
 *
 *   media.listen            LIGHTSOUT_MEDIA_LISTEN             host:port on the out-of-band network (default 127.0.0.1:0)
 *   media.publicUrl         LIGHTSOUT_MEDIA_PUBLIC_URL         base URL BMCs use, when NAT sits between (default from listen)
 *   media.cacheBytes        LIGHTSOUT_MEDIA_CACHE_BYTES        cache size cap (default 32 GiB)
 *   media.urlTtlSeconds     LIGHTSOUT_MEDIA_URL_TTL_SECONDS    signed URL lifetime (default 12 h)
 *   media.autoEjectSeconds  LIGHTSOUT_MEDIA_AUTO_EJECT_SECONDS eject after this long (default 6 h, 0 = never)
 */
export type MediaSettings = Omit<MediaServiceOptions, 'cacheDirectory' | 'keyFile' | 'mountsFile' | 'resume'> & { cacheDirectory?: string; keyFile?: string };

export function mediaSettingsFrom(file: AgentConfig['media'], environment: NodeJS.ProcessEnv = process.env): MediaSettings {
  const listen = environment['LIGHTSOUT_MEDIA_LISTEN'] ?? file.listen ?? '127.0.0.1:0';
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(listen);
  if (!match) throw new LightsoutError('CONFIG_INVALID', `media.listen (or LIGHTSOUT_MEDIA_LISTEN) must be host:port, not ${listen}`);
  const number = (name: string, fromFile: number | undefined, fallback: number) => {
    const text = environment[name];
    if (text === undefined || text === '') return fromFile ?? fallback;
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < 0) throw new LightsoutError('CONFIG_INVALID', `${name} must be a non-negative integer`);
    return value;
  };
  const publicBaseUrl = environment['LIGHTSOUT_MEDIA_PUBLIC_URL'] ?? file.publicUrl;
  return {
    listenHost: match[1]!,
    listenPort: Number(match[2]),
    ...(publicBaseUrl ? { publicBaseUrl } : {}),
    cacheBytes: number('LIGHTSOUT_MEDIA_CACHE_BYTES', file.cacheBytes, 32 * 1024 ** 3),
    urlTtlSeconds: number('LIGHTSOUT_MEDIA_URL_TTL_SECONDS', file.urlTtlSeconds, 12 * 3600),
    autoEjectSeconds: number('LIGHTSOUT_MEDIA_AUTO_EJECT_SECONDS', file.autoEjectSeconds, 6 * 3600),
  };
}

const Sha256 = Type.String({ pattern: SHA256_HEX_PATTERN });
const ServerId = Type.String({ minLength: 1, maxLength: 63 });
const FetchParams = Type.Object({ serverId: ServerId, sha256: Sha256, size: Type.Integer({ minimum: 0 }), pullPath: Type.String({ maxLength: 512 }) });
const StatusParams = Type.Object({ serverId: ServerId, sha256: Type.Optional(Sha256), pullPath: Type.Optional(Type.String({ maxLength: 512 })), fetchId: Type.Optional(Type.String({ maxLength: 64 })) });
const FetchUrlParams = Type.Object({
  serverId: ServerId,
  url: Type.String({ maxLength: MEDIA_URL_MAX_LENGTH }),
  allow: Type.Array(Type.String({ maxLength: 253 }), { maxItems: 200 }),
  maxBytes: Type.Integer({ minimum: 1 }),
  sha256: Type.Optional(Sha256),
  reuseCached: Type.Optional(Type.Boolean()),
});
const MountParams = Type.Object({ serverId: ServerId, sha256: Sha256, filename: Type.String({ maxLength: 255 }), mountedBy: Type.String({ maxLength: 255 }), boot: Type.Boolean() });
const EjectParams = Type.Object({ serverId: ServerId });
const DiscardParams = Type.Object({ pullPath: Type.String({ maxLength: 512 }) });

function checked<T>(schema: TSchema, op: string, run: (params: T) => unknown): OperationHandler {
  return async (params) => {
    if (!Value.Check(schema, params)) {
      const first = [...Value.Errors(schema, params)][0];
      throw new LightsoutError('BAD_REQUEST', `invalid params for ${op}: ${first ? `${first.instancePath || '/'} ${first.message}` : 'invalid'}`);
    }
    return run(params as T);
  };
}

/** `settings` replaces the config file and environment (tests); by default both are read at start. */
export function createMediaExtension(settingsOverride?: MediaSettings): AgentExtensionFactory {
  return (context: AgentContext): AgentExtension => {
    const { config, registry, logger } = context;
    const settings = settingsOverride ?? mediaSettingsFrom(config.media);
    // Looked up at each call: adoption adds servers to config.servers while the agent runs.
    const servers = { get: (serverId: string) => config.servers.find((server) => server.id === serverId), has: (serverId: string) => config.servers.some((server) => server.id === serverId) };
    const ownDrivers = new Map<string, BmcDriver & VirtualMediaDriver>();
    // The registry asks IPMI first when a server has both; virtual media needs the Redfish driver.
    const mediaDriverFor = (serverId: string) => {
      const server = servers.get(serverId);
      if (!server?.redfish) return undefined;
      if (registry.protocolFor(serverId) === 'redfish') {
        const shared = registry.driverFor(serverId);
        if (isVirtualMediaDriver(shared)) return shared;
      }
      let driver = ownDrivers.get(serverId);
      if (!driver) {
        const endpoint = server.redfish;
        driver = createRedfishDriver({
          serverId,
          url: endpoint.url,
          credentials: endpoint.credentials,
          tls: endpoint.tls,
          trustDirectory: join(config.stateDir, 'redfish-trust'),
          quirks: endpoint.quirks,
          ...(endpoint.systemId !== undefined ? { systemId: endpoint.systemId } : {}),
          onInsecure: (peer) => logger.warn({ serverId, peer }, 'TLS verification is off for this BMC (tls.insecure)'),
        });
        ownDrivers.set(serverId, driver);
      }
      return driver;
    };
    const service = new MediaService(
      {
        ...settings,
        cacheDirectory: settings.cacheDirectory ?? join(config.stateDir, 'media'),
        keyFile: settings.keyFile ?? join(config.stateDir, 'media-url.key'),
        mountsFile: join(config.stateDir, 'media-mounts.json'),
      },
      { relay: () => context.relay().url, logger: logger.child({ component: 'media' }), signJwt: () => context.signJwt(), mediaDriverFor,
        hasServer: (serverId) => servers.has(serverId),
        onTransfer: (event) => {
          if (event === 'started') return context.metrics.mediaTransfersActive.inc();
          context.metrics.mediaTransfersActive.dec();
          context.metrics.mediaTransfers.inc({ result: event });
        },
      },
    );
    const started = service.start();
    started.catch((error: unknown) => logger.error({ err: error }, 'media server failed to start; virtual media is unavailable'));
    const ready = async () => {
      try {
        await started;
      } catch (error) {
        throw new LightsoutError('BMC_UNSUPPORTED', 'the agent media server is not running', { cause: error, hint: 'check media.listen in the agent config' });
      }
    };
    return {
      handlers: {
        'media.fetch': checked<{ serverId: string; sha256: string; size: number; pullPath: string }>(FetchParams, 'media.fetch', async (params) => {
          await ready();
          return service.fetch(params);
        }),
        'media.fetch-url': checked<MediaFetchUrlParams>(FetchUrlParams, 'media.fetch-url', async (params) => {
          await ready();
          return service.fetchUrl(params);
        }),
        'media.status': checked<{ serverId: string; sha256?: string; pullPath?: string; fetchId?: string }>(StatusParams, 'media.status', async (params) => service.status(params.serverId, params.sha256, params.fetchId, params.pullPath)),
        'media.mount': checked<{ serverId: string; sha256: string; filename: string; mountedBy: string; boot: boolean }>(MountParams, 'media.mount', async (params) => {
          await ready();
          return service.mount(params);
        }),
        'media.eject': checked<{ serverId: string }>(EjectParams, 'media.eject', async (params) => service.eject(params.serverId)),
        'media.discard': checked<{ pullPath: string }>(DiscardParams, 'media.discard', async (params) => service.discard(params.pullPath)),
      },
      async stop() {
        await started.catch(() => undefined);
        await service.stop();
        await Promise.allSettled([...ownDrivers.values()].map((driver) => driver.close()));
      },
    };
  };
}
