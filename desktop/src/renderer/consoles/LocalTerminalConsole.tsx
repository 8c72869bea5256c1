import '@xterm/xterm/css/xterm.css';
import { FitAddon } from '@xterm/addon-fit';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { Terminal } from '@xterm/xterm';
import { useEffect, useRef, useState } from 'react';
import { useApp } from '../app-context.js';
import { terminalOptions } from './terminal-theme.js';

/** A shell on the technician's own machine (desktop only): node-pty in main, xterm.js here. */
export function LocalTerminalConsole({ visible }: { visible: boolean }) {
  const { platform } = useApp();
  const surface = useRef<HTMLDivElement>(null);
  const terminal = useRef<Terminal | null>(null);
  const [exitCode, setExitCode] = useState<number | null>(null);

  useEffect(() => {
    const api = platform.localTerminal;
    const element = surface.current;
    if (!api || !element) return;
    const created = new Terminal(terminalOptions);
    const fit = new FitAddon();
    created.loadAddon(fit);
    created.loadAddon(new WebLinksAddon((_event, uri) => window.open(uri, '_blank', 'noopener')));
    created.open(element);
    fit.fit();
    terminal.current = created;
    let terminalId: number | null = null;
    let disposed = false;
    const cleanups: (() => void)[] = [];
    void api.spawn(created.cols, created.rows).then((id) => {
      if (disposed) return api.kill(id);
      terminalId = id;
      cleanups.push(api.onData(id, (data) => created.write(data)));
      cleanups.push(api.onExit(id, (code) => setExitCode(code)));
      const input = created.onData((data) => api.write(id, data));
      const resize = created.onResize(({ cols, rows }) => api.resize(id, cols, rows));
      cleanups.push(() => input.dispose(), () => resize.dispose());
    });
    const observer = new ResizeObserver(() => element.offsetWidth > 0 && fit.fit());
    observer.observe(element);
    return () => {
      disposed = true;
      observer.disconnect();
      for (const cleanup of cleanups) cleanup();
      if (terminalId !== null) api.kill(terminalId);
      created.dispose();
    };
  }, [platform]);

  useEffect(() => {
    if (visible) terminal.current?.focus();
  }, [visible]);

  if (!platform.localTerminal) return <div className="pane-empty">Local terminals need the desktop app.</div>;
  return (
    <>
      <div className="console-toolbar">
        <span className="server">Local shell</span>
        <span className="state">{exitCode === null ? 'running' : `exited with ${exitCode}`}</span>
      </div>
      <div className="console-surface">
        <div ref={surface} style={{ position: 'absolute', inset: 0 }} />
      </div>
    </>
  );
}
