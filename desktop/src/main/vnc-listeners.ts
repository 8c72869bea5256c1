import { formatAddress, openVncListener, type VncListener, type VncListenerOptions } from '@lightsout/cli/node';
import { type ErrorBody, LightsoutError, type SessionCreated } from '@lightsout/shared';
import type { VncListenerInfo, VncListenRequest } from '../common/desktop-api.js';

export interface VncListenersDependencies {
  /** The relay the app is signed in to, or null. */
  relayUrl(): string | null;
  accessToken(): Promise<string | null>;
  /** Hands `vnc://host:port` to the OS (Screen Sharing on macOS, Remmina or a TigerVNC handler elsewhere). */
  openExternal(url: string): Promise<void>;
  /** Main's log for the listeners' notices. */
  log(text: string): void;
  /** The CLI's listener; tests pass a stand-in. */
  open?: (options: VncListenerOptions) => Promise<VncListener>;
  fetch?: typeof fetch;
}

/**
 * "Open in VNC client": main runs the same local listener as
 * `lightsout vnc SERVER --listen` (loopback, a free port, RFB security
 * None) over a console session opened with the signed-in user's token, then
 * asks the OS to open `vnc://` at it. The renderer only ever learns the
 * address; the token and the session stay in main. A listener lives until
 * the renderer closes it, its session ends, or the app quits.
 */
export class VncListeners {
  private readonly open = new Map<number, { info: VncListenerInfo; listener: VncListener }>();
  private nextId = 1;

  constructor(private readonly dependencies: VncListenersDependencies) {}

  async start(request: VncListenRequest): Promise<VncListenerInfo> {
    const relay = this.dependencies.relayUrl();
    const token = await this.dependencies.accessToken();
    if (relay === null || token === null) throw new LightsoutError('UNAUTHENTICATED', 'sign in first');
    const fetchFn = this.dependencies.fetch ?? fetch;
    const listener = await (this.dependencies.open ?? openVncListener)({
      host: '127.0.0.1',
      port: 0,
      viewOnly: request.viewOnly,
      notice: (text) => this.dependencies.log(text.trimEnd()),
      openSession: async () => {
        const response = await fetchFn(`${relay}/v1/servers/${encodeURIComponent(request.serverId)}/sessions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ kind: 'vnc' }),
        });
        const body = (await response.json().catch(() => ({}))) as Partial<ErrorBody> & Partial<SessionCreated>;
        if (!response.ok) throw new LightsoutError((body.code as ErrorBody['code'] | undefined) ?? 'INTERNAL', body.message ?? `the relay answered ${response.status}`);
        return body as SessionCreated;
      },
    });
    const listenerId = this.nextId++;
    const url = `vnc://${formatAddress(listener.host, listener.port)}`;
    const info: VncListenerInfo = { listenerId, serverId: request.serverId, host: listener.host, port: listener.port, viewOnly: request.viewOnly, url, clientOpened: false };
    this.open.set(listenerId, { info, listener });
    void listener.done.then(() => this.open.delete(listenerId));
    // No registered vnc: handler is no failure: the renderer shows the address to paste into a client.
    info.clientOpened = await this.dependencies.openExternal(url).then(
      () => true,
      () => false,
    );
    return { ...info };
  }

  async stop(listenerId: number): Promise<void> {
    const entry = this.open.get(listenerId);
    if (entry === undefined) return;
    this.open.delete(listenerId);
    await entry.listener.close();
  }

  list(): VncListenerInfo[] {
    return [...this.open.values()].map(({ info }) => ({ ...info }));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.open.keys()].map((id) => this.stop(id)));
  }
}
