import { type ErrorBody, LightsoutError } from '@lightsout/shared';
import type { AuthCalls, LocalFile, PopOutRequest, TerminalSpawnRequest, VncListenerInfo, VncListenRequest } from '../common/desktop-api.js';
import { MainChannel } from '../common/ipc-channels.js';
import type { FileGrants } from './file-grants.js';

/** The slice of Electron's ipcMain / IpcMainInvokeEvent used here, so tests run without Electron. */
export interface InvokeEvent {
  senderFrame: { url: string } | null;
  sender: { id: number };
}
export interface IpcMainLike {
  handle(channel: string, listener: (event: InvokeEvent, ...args: unknown[]) => unknown): void;
  removeHandler(channel: string): void;
}

export interface MainServices {
  auth: AuthCalls;
  popOut(request: PopOutRequest): Promise<void>;
  notify(title: string, body: string): void;
  saveFile(suggestedName: string, bytes: Uint8Array): Promise<string | null>;
  /** The OS open dialog, over the window that asked; the chosen path, or null when cancelled. */
  chooseLocalFile(windowId: number): Promise<string | null>;
  /** Reads a path; only ever called with a path taken from `fileGrants`. */
  readLocalFile(path: string): Promise<LocalFile>;
  /** The paths each window may read: chosen in the open dialog or dropped. */
  fileGrants: FileGrants;
  vnc: {
    start(request: VncListenRequest): Promise<VncListenerInfo>;
    stop(listenerId: number): Promise<void>;
  };
  terminals: {
    spawn(senderId: number, request: TerminalSpawnRequest): number;
    write(terminalId: number, data: string): void;
    resize(terminalId: number, cols: number, rows: number): void;
    kill(terminalId: number): void;
  };
  /** Is this URL one of our own renderer pages? */
  isAppUrl(url: string): boolean;
}

const text = (value: unknown, name: string, max = 4096): string => {
  if (typeof value !== 'string' || value.length > max) throw new LightsoutError('VALIDATION_FAILED', `${name} must be a string of at most ${max} characters`);
  return value;
};
const integer = (value: unknown, name: string): number => {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new LightsoutError('VALIDATION_FAILED', `${name} must be an integer`);
  return value;
};
const record = (value: unknown, name: string): Record<string, unknown> => {
  if (typeof value !== 'object' || value === null) throw new LightsoutError('VALIDATION_FAILED', `${name} must be an object`);
  return value as Record<string, unknown>;
};

/**
 * Every handler main offers, one per channel. Each checks that the call comes
 * from our own page (a frame that navigated elsewhere gets nothing) and
 * validates its arguments; errors cross back as `{code, message}` bodies so
 * the renderer sees the same error codes as from the relay.
 */
export function ipcHandlers(services: MainServices): Record<MainChannel, (event: InvokeEvent, ...args: unknown[]) => Promise<unknown>> {
  return {
    [MainChannel.AuthConfigure]: async (_event, relayUrl) => services.auth.configure(text(relayUrl, 'relayUrl', 2048)),
    [MainChannel.AuthLogin]: async () => services.auth.login(),
    [MainChannel.AuthLogout]: async () => services.auth.logout(),
    [MainChannel.AuthAccessToken]: async () => services.auth.accessToken(),
    [MainChannel.AuthStepUp]: async (_event, mfa) => services.auth.stepUp(mfa === true),
    [MainChannel.WindowPopOut]: async (_event, request) => {
      const fields = record(request, 'request');
      return services.popOut({ query: text(fields.query, 'query', 8192), title: text(fields.title, 'title', 256) });
    },
    [MainChannel.Notify]: async (_event, title, body) => services.notify(text(title, 'title', 256), text(body, 'body', 2048)),
    [MainChannel.SaveFile]: async (_event, name, bytes) => {
      if (!(bytes instanceof Uint8Array)) throw new LightsoutError('VALIDATION_FAILED', 'bytes must be a Uint8Array');
      return services.saveFile(text(name, 'name', 255), bytes);
    },
    [MainChannel.PickLocalFile]: async (event) => {
      const path = await services.chooseLocalFile(event.sender.id);
      if (path !== null) services.fileGrants.grant(event.sender.id, path);
      return path;
    },
    // Only the preload sends this, from a trusted drop event: page script cannot reach ipcRenderer.
    [MainChannel.GrantDroppedFile]: async (event, path) => services.fileGrants.grant(event.sender.id, text(path, 'path')),
    [MainChannel.ReadLocalFile]: async (event, path) => services.readLocalFile(services.fileGrants.take(event.sender.id, text(path, 'path'))),
    [MainChannel.VncOpen]: async (_event, request) => {
      const fields = record(request, 'request');
      const serverId = text(fields.serverId, 'serverId', 256);
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(serverId)) throw new LightsoutError('VALIDATION_FAILED', 'serverId must be a server id');
      if (typeof fields.viewOnly !== 'boolean') throw new LightsoutError('VALIDATION_FAILED', 'viewOnly must be a boolean');
      return services.vnc.start({ serverId, viewOnly: fields.viewOnly });
    },
    [MainChannel.VncClose]: async (_event, listenerId) => services.vnc.stop(integer(listenerId, 'listenerId')),
    [MainChannel.TerminalSpawn]: async (event, request) => {
      const fields = record(request, 'request');
      return services.terminals.spawn(event.sender.id, { cols: integer(fields.cols, 'cols'), rows: integer(fields.rows, 'rows') });
    },
    [MainChannel.TerminalWrite]: async (_event, terminalId, data) => services.terminals.write(integer(terminalId, 'terminalId'), text(data, 'data', 1 << 20)),
    [MainChannel.TerminalResize]: async (_event, terminalId, cols, rows) =>
      services.terminals.resize(integer(terminalId, 'terminalId'), integer(cols, 'cols'), integer(rows, 'rows')),
    [MainChannel.TerminalKill]: async (_event, terminalId) => services.terminals.kill(integer(terminalId, 'terminalId')),
  };
}

/** Serialises any thrown value as an ErrorBody-shaped Error that survives ipcRenderer.invoke. */
function toTransportError(error: unknown): Error {
  const body: ErrorBody =
    error instanceof LightsoutError ? error.toBody() : { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
  // invoke() only carries the message across: encode the body in it, the renderer decodes it.
  return new Error(JSON.stringify(body));
}

export function registerIpcHandlers(ipc: IpcMainLike, services: MainServices): () => void {
  const handlers = ipcHandlers(services);
  for (const [channel, handler] of Object.entries(handlers)) {
    ipc.handle(channel, async (event, ...args) => {
      const origin = event.senderFrame?.url ?? '';
      if (!services.isAppUrl(origin)) throw toTransportError(new LightsoutError('FORBIDDEN', `IPC from a foreign page refused`));
      try {
        return await handler(event, ...args);
      } catch (error) {
        throw toTransportError(error);
      }
    });
  }
  return () => {
    for (const channel of Object.keys(handlers)) ipc.removeHandler(channel);
  };
}
