import { spawn } from 'node:child_process';
import { LightsoutError, type ServerView, type SessionCreated, type StreamKind } from '@lightsout/shared';
import { serverPath } from '../api.js';
import { attachConsole, outcomeError, type ConsoleTerminal } from '../console/attach.js';
import { apiFor, type CommandContext } from './context.js';

export interface ConsoleOptions {
  kind?: 'sol' | 'serial';
  view?: boolean;
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
  const api = await apiFor(context);
  const server = await api.get<ServerView>(`/v1/servers/${encodeURIComponent(serverId)}`);
  const kind = pickKind(server, options.kind);
  const session = await api.post<SessionCreated>(serverPath(serverId, 'sessions'), { kind, ...(options.view ? { mode: 'view' } : {}) });
  const notice = (text: string) => context.output.err(text);
  notice(`[lightsout: ${kind === 'sol' ? 'SOL' : 'serial'} console of ${serverId}${session.mode === 'view' ? ' (read-only)' : ''}; ~. to leave, ~? for help]\r\n`);
  const outcome = await attachConsole(session, terminal ?? { input: process.stdin, output: process.stdout, notice });
  // A piped stdin keeps the event loop alive even when paused; the command is over.
  if (terminal === undefined) process.stdin.destroy();
  const error = outcomeError(outcome);
  if (error) throw error;
}

/** The web console's deep link to one tab (the renderer's `?popout=` tab descriptor). */
export function webConsoleUrl(relay: string, serverId: string, kind: 'vnc' | 'sol' | 'serial'): string {
  const tab = { id: `${kind}:${serverId}`, kind, serverId, title: `${serverId} ${kind === 'vnc' ? 'VNC' : kind.toUpperCase()}` };
  return `${relay}/?popout=${encodeURIComponent(JSON.stringify(tab))}`;
}

/** `lightsout vnc SERVER`: print (and with --open, open) the web console URL for the server's graphical console. */
export async function vncCommand(context: CommandContext, serverId: string, options: { open?: boolean }): Promise<void> {
  const api = await apiFor(context);
  const server = await api.get<ServerView>(`/v1/servers/${encodeURIComponent(serverId)}`);
  if (!server.capabilities.includes('vnc')) {
    const text = server.capabilities.includes('sol') || server.capabilities.includes('serial');
    throw new LightsoutError('BMC_UNSUPPORTED', `server ${serverId} has no graphical console`, {
      hint: text ? 'use `lightsout console` for its text console' : `it has no text console either (it offers: ${offers(server)})`,
    });
  }
  const url = webConsoleUrl(api.relay, serverId, 'vnc');
  context.output.out(`${url}\n`);
  if (options.open) {
    const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
    const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => context.output.err(`could not run ${opener}: open the URL above in a browser\n`));
    child.unref();
  }
}
