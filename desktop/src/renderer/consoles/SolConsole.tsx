import '@xterm/xterm/css/xterm.css';
import type { ServerView } from '@lightsout/shared';
import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon } from '@xterm/addon-search';
import { Unicode11Addon } from '@xterm/addon-unicode11';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { Terminal } from '@xterm/xterm';
import { useEffect, useRef, useState } from 'react';
import { solBroadcast } from '../state/broadcast.js';
import { ConsoleSurface } from './ConsoleSurface.js';
import { KeysSent, useKeysNotice } from './KeysSent.js';
import { MacroMenu } from './MacroMenu.js';
import { serialBytesOf } from './macros.js';
import { routeTerminalData, TypedInputTracker } from './terminal-input.js';
import { terminalOptions } from './terminal-theme.js';
import { stateLabel, useConsoleStream } from './use-console-stream.js';

const encoder = new TextEncoder();

/**
 * SOL or BMC serial console in xterm.js over a resumable stream. Bytes from
 * the BMC are written to the terminal untouched (xterm decodes UTF-8);
 * keystrokes go out as UTF-8. The terminal lives as long as the tab, so
 * scrollback survives hiding the tab and reconnects.
 */
export function SolConsole({ server, kind, visible }: { server: ServerView; kind: 'sol' | 'serial'; visible: boolean }) {
  const surface = useRef<HTMLDivElement>(null);
  const terminal = useRef<Terminal | null>(null);
  const fit = useRef<FitAddon | null>(null);
  const search = useRef<SearchAddon | null>(null);
  const [query, setQuery] = useState('');
  const [broadcast, setBroadcast] = useState(false);
  const [broadcastSize, setBroadcastSize] = useState(solBroadcast.size);
  const broadcasting = useRef(false);
  broadcasting.current = broadcast;
  const memberId = `${kind}:${server.id}`;
  const { stream, state, status, refusedBytes, errorCode } = useConsoleStream(server.id, kind, (bytes) => terminal.current?.write(bytes));
  // Keys typed in a view-only pane are not sent (the agent would drop them): count them and say so where
  // the person types, instead of letting them vanish.
  const viewOnly = useRef(false);
  viewOnly.current = status?.mode === 'view';
  const [viewRefused, setViewRefused] = useState(0);
  useEffect(() => {
    if (status?.mode === 'control') setViewRefused(0);
  }, [status?.mode]);

  useEffect(() => {
    const element = surface.current;
    if (!element) return;
    const created = new Terminal(terminalOptions);
    const fitAddon = new FitAddon();
    const searchAddon = new SearchAddon();
    created.loadAddon(fitAddon);
    created.loadAddon(searchAddon);
    created.loadAddon(new WebLinksAddon((_event, uri) => window.open(uri, '_blank', 'noopener')));
    // Unicode 11 widths: CJK and emoji in BMC/OS output take the columns the server expects.
    created.loadAddon(new Unicode11Addon());
    created.unicode.activeVersion = '11';
    created.open(element);
    // Before xterm.js's own listeners (capture phase): what the person types is told from the terminal's answers.
    const typedInput = new TypedInputTracker(element);
    created.attachCustomKeyEventHandler((event) => {
      // Ctrl+Shift+C / Ctrl+Shift+V: copy and paste, as in terminal emulators (Ctrl+C goes to the server).
      if (event.type !== 'keydown' || !event.ctrlKey || !event.shiftKey) return true;
      if (event.code === 'KeyC') {
        void navigator.clipboard.writeText(created.getSelection());
        return false;
      }
      if (event.code === 'KeyV') {
        void navigator.clipboard.readText().then((text) => typedInput.asTyped(() => created.paste(text)));
        return false;
      }
      return true;
    });
    const input = created.onData((data) => {
      const bytes = encoder.encode(data);
      // The terminal's answers to the BMC's queries go to that BMC only: never typed into the broadcast group.
      const route = routeTerminalData({ typed: typedInput.typed(data), viewOnly: viewOnly.current, broadcasting: broadcasting.current });
      if (route.refused) setViewRefused((count) => count + bytes.length);
      if (route.own) stream.current?.write(bytes);
      if (route.broadcast) solBroadcast.send(memberId, bytes);
    });
    const binary = created.onBinary((data) => stream.current?.write(Uint8Array.from(data, (character) => character.charCodeAt(0))));
    const resized = created.onResize(({ cols, rows }) => stream.current?.resize(cols, rows));
    terminal.current = created;
    fit.current = fitAddon;
    search.current = searchAddon;
    const observer = new ResizeObserver(() => {
      if (element.offsetWidth > 0 && element.offsetHeight > 0) fitAddon.fit();
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      typedInput.dispose();
      input.dispose();
      binary.dispose();
      resized.dispose();
      created.dispose();
      terminal.current = null;
    };
  }, [stream, memberId]);

  useEffect(() => solBroadcast.onSize(setBroadcastSize), []);
  useEffect(() => (broadcast ? solBroadcast.join(memberId, (bytes) => stream.current?.write(bytes)) : undefined), [broadcast, memberId, stream]);

  useEffect(() => {
    if (visible) terminal.current?.focus();
  }, [visible]);

  const [keysNotice, notifyKeys] = useKeysNotice();

  const members = status?.members.filter((member) => member.attached) ?? [];
  return (
    <>
      <div className="console-toolbar">
        <span className="server">{server.name}</span>
        <span className="state" data-testid="console-state" data-state={state.state} data-mode={status?.mode ?? 'unknown'}>
          {kind.toUpperCase()} · {stateLabel(state.state)}
          {status?.mode === 'view' ? ` · view only${status.controller ? ` (${status.controller} has control)` : ''}` : ''}
        </span>
        {members.length > 1 ? <span className="members" title={members.map((member) => `${member.user} (${member.mode})`).join(', ')}>{members.length} watching</span> : null}
        {status?.mode === 'view' ? <button onClick={() => stream.current?.takeOver()} data-testid="take-control">Take control</button> : null}
        <span className="spacer" />
        <input
          type="search"
          placeholder="Find in output"
          aria-label="Find in console output"
          value={query}
          onChange={(event) => {
            setQuery(event.target.value);
            search.current?.findNext(event.target.value, { incremental: true });
          }}
          onKeyDown={(event) => {
            if (event.key !== 'Enter') return;
            if (event.shiftKey) search.current?.findPrevious(query);
            else search.current?.findNext(query);
          }}
        />
        <label title="Type into every console that has broadcast on" style={{ display: 'flex', gap: 4, alignItems: 'center', color: broadcast ? 'var(--warn)' : undefined }}>
          <input type="checkbox" checked={broadcast} onChange={(event) => setBroadcast(event.target.checked)} /> Broadcast{broadcast && broadcastSize > 1 ? ` (${broadcastSize})` : ''}
        </label>
        <MacroMenu
          disabled={state.state !== 'streaming' || status?.mode === 'view'}
          notify={notifyKeys}
          // A macro goes to this console only (not to the broadcast group), and never while view only.
          send={(step) => !viewOnly.current && (stream.current?.write(serialBytesOf(step)) ?? false)}
        />
        <button title="Send a serial break" onClick={() => stream.current?.sendBreak()}>Break</button>
        <button title="Clear the screen (output is kept on the server side)" onClick={() => terminal.current?.clear()}>Clear</button>
      </div>
      <KeysSent notice={keysNotice} />
      {viewRefused > 0 && status?.mode === 'view' ? (
        <div className="console-notice" role="status" data-testid="view-only-refused">
          View only — input not sent ({viewRefused} {viewRefused === 1 ? 'byte' : 'bytes'}).{status.controller ? ` ${status.controller} has control.` : ''}
          <button onClick={() => stream.current?.takeOver()}>Take control</button>
        </div>
      ) : null}
      <ConsoleSurface className="console-surface" testId="sol-console" serverId={server.id} host={surface} state={state.state} detail={state.detail} refusedBytes={refusedBytes}
        onRestart={() => void stream.current?.restart()}
        // SOL already active on another BMC session: reopen, ending that session's hold.
        onTakeOver={kind === 'sol' && errorCode === 'BMC_BUSY' ? () => void stream.current?.restart({ takeover: true }) : undefined}
      />
    </>
  );
}
