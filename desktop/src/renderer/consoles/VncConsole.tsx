import type { ServerView } from '@lightsout/shared';
import RFB from '@novnc/novnc';
import { useEffect, useRef, useState } from 'react';
import { useApp } from '../app-context.js';
import { StreamChannel } from '../streams/novnc-channel.js';
import { ConsoleSurface } from './ConsoleSurface.js';
import { KeysSent, useKeysNotice } from './KeysSent.js';
import { functionKey, keysymsOf } from './keysyms.js';
import { MacroMenu } from './MacroMenu.js';
import { keysymOfKey, type MacroStep } from './macros.js';
import { vncClientCommand, vncClientListening } from './vnc-client.js';
import { stateLabel, useConsoleStream } from './use-console-stream.js';

/** Paste at most this many keystrokes per second: BMC keyboards drop keys when flooded. */
const PASTE_KEYS_PER_SECOND = 40;

/**
 * Graphical console: noVNC's RFB over a resumable stream (the agent already
 * did the BMC's VNC authentication and offers None). A drop underneath is
 * invisible to noVNC; a new session gets a new RFB.
 */
export function VncConsole({ server, visible }: { server: ServerView; visible: boolean }) {
  const app = useApp();
  const screen = useRef<HTMLDivElement>(null);
  const rfb = useRef<RFB | null>(null);
  const channel = useRef<StreamChannel | null>(null);
  const cancelPaste = useRef<(() => void) | null>(null);
  const [generation, setGeneration] = useState(0);
  const [scale, setScale] = useState(true);
  const [viewOnly, setViewOnly] = useState(false);
  const [desktopName, setDesktopName] = useState<string | null>(null);
  const [pasting, setPasting] = useState(false);
  const { stream, state, status, restartWith } = useConsoleStream(server.id, 'vnc', (bytes) => channel.current?.deliver(bytes));

  // One RFB per session generation, attached to a channel the stream feeds.
  useEffect(() => {
    const element = screen.current;
    const current = stream.current;
    if (!element || !current) return;
    const created = new StreamChannel();
    created.attach(current);
    channel.current = created;
    const client = new RFB(element, created, { shared: true });
    client.scaleViewport = true;
    client.background = '#0d1014';
    client.addEventListener('desktopname', (event) => setDesktopName((event as CustomEvent<{ name: string }>).detail.name));
    rfb.current = client;
    return () => {
      cancelPaste.current?.();
      try {
        client.disconnect();
      } catch {
        // already disconnected
      }
      rfb.current = null;
      channel.current = null;
    };
  }, [stream, generation]);

  useEffect(() => {
    if (state.state === 'streaming') channel.current?.opened();
    if (state.state === 'closed' || state.state === 'failed') channel.current?.closed(1000, state.detail ?? state.state);
  }, [state]);

  useEffect(() => {
    if (rfb.current) rfb.current.scaleViewport = scale;
  }, [scale, generation]);
  useEffect(() => {
    if (rfb.current) rfb.current.viewOnly = viewOnly || status?.mode === 'view';
  }, [viewOnly, status, generation]);
  useEffect(() => {
    if (visible) rfb.current?.focus();
  }, [visible]);

  const [keysNotice, notifyKeys] = useKeysNotice();
  /** Presses keys on the console; true when noVNC handed them to the stream (nothing goes out while disconnected or view only). */
  const pressKeys = (press: (client: RFB) => void): boolean => {
    const client = rfb.current;
    const sending = channel.current;
    if (!client || !sending || state.state !== 'streaming') return false;
    const before = sending.sentBytes;
    press(client);
    return sending.sentBytes > before;
  };
  const sendNamed = (name: string, press: (client: RFB) => void) =>
    notifyKeys(pressKeys(press) ? { ok: true, text: `${name} sent` } : { ok: false, text: `${name} not sent: the console is not connected${viewOnly || status?.mode === 'view' ? ' (view only)' : ''}` });
  const sendStep = (step: Exclude<MacroStep, { kind: 'wait' }>) =>
    pressKeys((client) => {
      for (const keysym of step.kind === 'text' ? keysymsOf(step.text) : [keysymOfKey(step.key)]) client.sendKey(keysym, null);
    });

  const pasteAsKeys = async () => {
    const text = await navigator.clipboard.readText().catch(() => '');
    const keysyms = keysymsOf(text);
    if (keysyms.length === 0 || !rfb.current) return;
    setPasting(true);
    let index = 0;
    const timer = setInterval(() => {
      const keysym = keysyms[index++];
      if (keysym === undefined || !rfb.current) {
        stop();
        return;
      }
      rfb.current.sendKey(keysym, null);
    }, 1000 / PASTE_KEYS_PER_SECOND);
    const stop = () => {
      clearInterval(timer);
      cancelPaste.current = null;
      setPasting(false);
    };
    cancelPaste.current = stop;
  };

  const screenshot = () =>
    rfb.current?.toBlob((blob) => {
      if (blob) void app.platform.saveFile(`${server.id}-${new Date().toISOString().replace(/[:.]/g, '-')}.png`, blob);
    }, 'image/png');

  const restart = () => {
    void stream.current?.restart().then(() => setGeneration((value) => value + 1));
  };
  // A new session needs a new RFB: "Reconnect all" restarts this console the same way.
  restartWith.current = restart;

  return (
    <>
      <div className="console-toolbar">
        <span className="server">{server.name}</span>
        <span className="state" data-testid="console-state" data-state={state.state}>
          VNC · {stateLabel(state.state)}
          {desktopName ? ` · ${desktopName}` : ''}
        </span>
        <span className="spacer" />
        <button onClick={() => sendNamed('Ctrl-Alt-Del', (client) => client.sendCtrlAltDel())} disabled={viewOnly} data-testid="send-ctrl-alt-del">Ctrl-Alt-Del</button>
        <select aria-label="Send function key" value="" disabled={viewOnly} onChange={(event) => {
          const number = Number(event.target.value);
          sendNamed(`F${number}`, (client) => client.sendKey(functionKey(number), null));
        }}>
          <option value="">F-key…</option>
          {Array.from({ length: 12 }, (_, index) => (
            <option key={index} value={index + 1}>F{index + 1}</option>
          ))}
        </select>
        <MacroMenu disabled={viewOnly || state.state !== 'streaming'} notify={notifyKeys} send={sendStep} />
        {pasting ? <button onClick={() => cancelPaste.current?.()}>Stop typing</button> : <button onClick={() => void pasteAsKeys()} disabled={viewOnly} title="Type the clipboard into the console">Paste as keys</button>}
        <button className={scale ? 'active' : ''} onClick={() => setScale(!scale)} title="Scale to fit the pane">{scale ? 'Fit' : '1:1'}</button>
        <label style={{ display: 'flex', gap: 4, alignItems: 'center' }}>
          <input type="checkbox" checked={viewOnly} onChange={(event) => setViewOnly(event.target.checked)} /> View only
        </label>
        <button onClick={screenshot} title="Save a PNG of the screen">Screenshot</button>
        <OpenInVncClient serverId={server.id} viewOnly={viewOnly} />
      </div>
      <KeysSent notice={keysNotice} />
      <ConsoleSurface className="console-surface vnc-surface" testId="vnc-console" serverId={server.id} host={screen} state={state.state} detail={state.detail} onRestart={restart} />
    </>
  );
}

/**
 * "Open in VNC client": the desktop app's main process opens a local
 * listener (loopback, security None) over a console session of its own and
 * hands vnc:// to the OS; the web console cannot open ports, so it shows the
 * CLI command that does the same.
 */
function OpenInVncClient({ serverId, viewOnly }: { serverId: string; viewOnly: boolean }) {
  const app = useApp();
  const vnc = app.platform.vncClient;
  const [open, setOpen] = useState(false);
  const [listener, setListener] = useState<{ listenerId: number; text: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => () => void (listener && vnc?.close(listener.listenerId)), [listener, vnc]);

  const start = async () => {
    if (!vnc) return setOpen(!open);
    setBusy(true);
    setError(null);
    try {
      const info = await vnc.open(serverId, viewOnly);
      setListener({ listenerId: info.listenerId, text: vncClientListening(info) });
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const stop = () => {
    if (listener) void vnc?.close(listener.listenerId);
    setListener(null);
  };
  const command = vncClientCommand(serverId, viewOnly);
  return (
    <span className="vnc-client" data-testid="vnc-client">
      {listener ? (
        <>
          <span data-testid="vnc-client-listening">{listener.text}</span> <button onClick={stop}>Stop</button>
        </>
      ) : (
        <button onClick={() => void start()} disabled={busy} title="Use TigerVNC, Remmina or Screen Sharing on this console">Open in VNC client</button>
      )}
      {error ? <span className="error" role="alert">{error}</span> : null}
      {!vnc && open ? (
        <span className="vnc-client-command" data-testid="vnc-client-command">
          Run <code>{command}</code> and connect your VNC client to 127.0.0.1:5901{' '}
          <button onClick={() => void navigator.clipboard.writeText(command)}>Copy</button>
        </span>
      ) : null}
    </span>
  );
}
