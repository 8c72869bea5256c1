import { spawn } from 'node:child_process';
import { isErrorCode, LightsoutError, type ServerView, type SessionCreated, type StreamKind } from '@lightsout/shared';
import { serverPath } from '../api.js';
import { attachConsole, outcomeError, type ConsoleTerminal } from '../console/attach.js';
import { formatAddress, openVncListener, type VncListener } from '../node/vnc-listener.js';
import { printable } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

export interface ConsoleOptions {
  kind?: 'sol' | 'serial';
  view?: boolean;
  /** SOL: end another session's hold on the BMC's SOL (another tool's `sol activate`) and take it. */
  takeover?: boolean;
}

/** SOL when the server has it, else the serial console; an explicit --sol/--serial wins. */
function pickKind(server: ServerView, wanted: ConsoleOptions['kind']): StreamKind {
  const has = (capability: 'sol' | 'serial') => server.capabilities.includes(capability);
  if (wanted !== undefined) {
    if (!has(wanted)) throw new LightsoutError('BMC_UNSUPPORTED', `server ${server.id} has no ${wanted === 'sol' ? 'SOL' : 'serial'} console`, { hint: `it offers: ${server.capabilities.join(', ')}` });
    return wanted;
  }
  if (has('sol')) return 'sol';
  if (has('serial')) return 'serial';
  throw new LightsoutError('BMC_UNSUPPORTED', `server ${server.id} has no text console (SOL or serial)`, {
    // only point at the other console when there is one
    hint: server.capabilities.includes('vnc') ? 'use `lightsout vnc` for its graphical console' : `it has no graphical console either (it offers: ${offers(server)})`,
  });
}

function offers(server: ServerView): string {
  return server.capabilities.length > 0 ? server.capabilities.join(', ') : 'nothing';
}

/** `lightsout console SERVER`: the server's SOL or serial console on this terminal. */
export async function consoleCommand(context: CommandContext, serverId: string, options: ConsoleOptions, terminal?: ConsoleTerminal): Promise<void> {
  const takeover = options.takeover === true;
  if (takeover && options.view) throw new LightsoutError('BAD_REQUEST', '--takeover and --view: a read-only view takes nothing over');
  if (takeover && options.kind === 'serial') throw new LightsoutError('BAD_REQUEST', '--takeover applies to SOL only (a serial console has no session to take over)');
  const api = await apiFor(context);
  const server = await api.get<ServerView>(`/v1/servers/${encodeURIComponent(serverId)}`);
  const kind = pickKind(server, takeover ? 'sol' : options.kind);
  const session = await api.post<SessionCreated>(serverPath(serverId, 'sessions'), { kind, ...(options.view ? { mode: 'view' } : {}), ...(takeover ? { takeover: true } : {}) });
  const notice = (text: string) => context.output.err(text);
  notice(`[lightsout: ${kind === 'sol' ? 'SOL' : 'serial'} console of ${serverId}${session.mode === 'view' ? ' (read-only)' : ''}; ~. to leave, ~? for help]\r\n`);
  const outcome = await attachConsole(session, terminal ?? { input: process.stdin, output: process.stdout, notice });
  // A piped stdin keeps the event loop alive even when paused; the command is over.
  if (terminal === undefined) process.stdin.destroy();
  const error = outcomeError(outcome);
  // SOL already active on another BMC session (another tool): say how to take it.
  if (error?.code === 'BMC_BUSY' && kind === 'sol' && !takeover && !options.view) {
    throw new LightsoutError('BMC_BUSY', error.message, { hint: `another session holds this server's SOL (another tool, e.g. ipmitool sol activate): wait for it to end, or retry with \`lightsout console ${serverId} --takeover\` to end it and take the console` });
  }
  if (error) throw error;
}

/** The web console's deep link to one tab (the renderer's `?popout=` tab descriptor). */
export function webConsoleUrl(relay: string, serverId: string, kind: 'vnc' | 'sol' | 'serial'): string {
  const tab = { id: `${kind}:${serverId}`, kind, serverId, title: `${serverId} ${kind === 'vnc' ? 'VNC' : kind.toUpperCase()}` };
  return `${relay}/?popout=${encodeURIComponent(JSON.stringify(tab))}`;
}

export interface VncOptions {
  open?: boolean;
  /** `[ADDR:]PORT`: serve the console to local VNC clients instead of printing the web console URL. */
  listen?: string;
  viewOnly?: boolean;
  /** Lets --listen take an address other than loopback. */
  allowRemote?: boolean;
}

/** What a test (or the desktop) needs from a running listener; the CLI itself waits for SIGINT/SIGTERM. */
export interface VncHooks {
  onListening?(listener: VncListener): void;
  signal?: AbortSignal;
}

/** `lightsout vnc SERVER`: print (and with --open, open) the web console URL, or with --listen serve it to local VNC clients. */
export async function vncCommand(context: CommandContext, serverId: string, options: VncOptions, hooks: VncHooks = {}): Promise<void> {
  const listen = options.listen === undefined ? undefined : parseListenAddress(options.listen, options.allowRemote === true);
  const api = await apiFor(context);
  const server = await api.get<ServerView>(`/v1/servers/${encodeURIComponent(serverId)}`);
  if (!server.capabilities.includes('vnc')) {
    const text = server.capabilities.includes('sol') || server.capabilities.includes('serial');
    throw new LightsoutError('BMC_UNSUPPORTED', `server ${serverId} has no graphical console`, {
      hint: text ? 'use `lightsout console` for its text console' : `it has no text console either (it offers: ${offers(server)})`,
    });
  }
  if (listen !== undefined) return serveVnc(context, serverId, listen, options.viewOnly === true, api, hooks);
  const url = webConsoleUrl(api.relay, serverId, 'vnc');
  context.output.out(`${url}\n`);
  if (options.open) {
    const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
    const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => context.output.err(`could not run ${opener}: open the URL above in a browser\n`));
    child.unref();
  }
}

export interface WebOptions {
  open?: boolean;
}

/**
 * `lightsout web SERVER`: a session on the BMC's own web UI (iDRAC, iLO,
 * bmcweb) through the agent; prints its one-time launch URL (on an origin of
 * its own, docs/security.md "The BMC's web UI"), and with --open opens it.
 * The URL works once, within a minute: it is a key, not a bookmark.
 */
export async function webCommand(context: CommandContext, serverId: string, options: WebOptions): Promise<void> {
  const api = await apiFor(context);
  const server = await api.get<ServerView>(`/v1/servers/${encodeURIComponent(serverId)}`);
  if (!server.capabilities.includes('web')) {
    throw new LightsoutError('BMC_UNSUPPORTED', `server ${serverId} has no web UI endpoint`, { hint: `add web: {url: https://…} to the server in the agent configuration (it offers: ${offers(server)})` });
  }
  const session = await api.post<SessionCreated>(serverPath(serverId, 'sessions'), { kind: 'web' });
  if (session.webUrl === undefined) throw new LightsoutError('INTERNAL', 'the relay answered no web UI URL');
  context.output.out(`${printable(session.webUrl)}\n`);
  context.output.err(`[lightsout: open within 60 s, once; the BMC's web UI then lives at ${printable(session.streamUrl)} until your session ends]\n`);
  if (options.open) {
    const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
    const child = spawn(opener, [session.webUrl], { stdio: 'ignore', detached: true });
    child.on('error', () => context.output.err(`could not run ${opener}: open the URL above in a browser\n`));
    child.unref();
  }
}

async function serveVnc(context: CommandContext, serverId: string, listen: ListenAddress, viewOnly: boolean, api: Awaited<ReturnType<typeof apiFor>>, hooks: VncHooks): Promise<void> {
  const notice = (text: string) => context.output.err(text);
  if (!listen.loopback) notice(`[lightsout: WARNING: listening on ${formatAddress(listen.host, listen.port)}, not loopback: anyone who can reach this address opens ${serverId}'s screen${viewOnly ? '' : ' and types into it'} as you, with no password]\n`);
  const listener = await openVncListener({
    host: listen.host,
    port: listen.port,
    viewOnly,
    notice,
    openSession: () => api.post<SessionCreated>(serverPath(serverId, 'sessions'), { kind: 'vnc' }),
  });
  const where = formatAddress(listen.host === '::' || listen.host === '0.0.0.0' ? listen.host : listener.host, listener.port);
  context.output.out(`${where}\n`);
  notice(`[lightsout: graphical console of ${serverId}${viewOnly ? ' (view only)' : ''} on ${where}, security None; connect a VNC client (e.g. vncviewer ${formatAddress(listener.host, listener.port).replace(/:(\d+)$/, '::$1')}); Ctrl-C to stop]\n`);
  hooks.onListening?.(listener);
  const stop = () => void listener.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  hooks.signal?.addEventListener('abort', stop, { once: true });
  const outcome = await listener.done;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  if (outcome.reason === 'closed' || (outcome.reason === 'ended' && outcome.code === 1000)) return;
  if (outcome.reason === 'refused') throw new LightsoutError(isErrorCode(outcome.detail) ? outcome.detail : 'BMC_UNREACHABLE', `the graphical console of ${serverId} could not be opened: ${outcome.detail}`);
  throw new LightsoutError(outcome.reason === 'lost' ? 'RELAY_UNREACHABLE' : 'CONFLICT', `the console session ${outcome.reason === 'lost' ? 'was lost' : 'ended'}: ${outcome.detail || `code ${outcome.code}`}`, { hint: 'run the command again' });
}

export interface ListenAddress {
  host: string;
  port: number;
  loopback: boolean;
}

/**
 * `PORT`, `ADDR:PORT` or `[IPv6]:PORT`; loopback (127.0.0.1) when no address
 * is given. Any other address must be asked for twice (--allow-remote): the
 * listener speaks RFB with security None, so whoever reaches it is the user.
 */
export function parseListenAddress(text: string, allowRemote: boolean): ListenAddress {
  const match = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):)?(\d{1,5})$/.exec(text.trim());
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port > 65535) throw new LightsoutError('BAD_REQUEST', `--listen ${text}: expected PORT or ADDR:PORT (e.g. 5901, 127.0.0.1:5901, [::1]:5901)`);
  const host = match[1] ?? match[2] ?? '127.0.0.1';
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  if (!loopback && !allowRemote) {
    throw new LightsoutError('BAD_REQUEST', `--listen ${text}: ${host} is not a loopback address`, { hint: 'the listener has no password of its own; add --allow-remote if other machines really should reach it' });
  }
  return { host, port, loopback };
}
