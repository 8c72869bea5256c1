import '@xterm/xterm/css/xterm.css';
import type { ServerView } from '@lightsout/shared';
import RFB from '@novnc/novnc';
import { Terminal } from '@xterm/xterm';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { RecordingMeta } from '../api/relay-client.js';
import { useApp } from '../app-context.js';
import { terminalOptions } from '../consoles/terminal-theme.js';
import { parseAsciicast } from './asciicast.js';
import { CastRenderer } from './cast-renderer.js';
import { filterRecordings } from './filter.js';
import { fitScale } from './fit.js';
import { formatBytes, formatDuration } from '../media/transfer-meter.js';
import { PlaybackClock } from './playback-clock.js';
import { ReplayChannel } from './replay-channel.js';
import { parseRfbCapture, type RfbRecord } from './rfb-capture.js';

const SPEEDS = [0.5, 1, 2, 4, 8] as const;

function formatTime(seconds: number): string {
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
}

/** Save bytes as a file through an object URL (the download needs the bearer token, so a plain link cannot do it). */
function saveFile(bytes: Uint8Array, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes.slice()], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A server's console recordings (the relay lists the caller's tenant only), with a player for the one picked. */
export function RecordingsView({ server }: { server: ServerView }) {
  const { client } = useApp();
  const [recordings, setRecordings] = useState<RecordingMeta[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [query, setQuery] = useState('');
  const [selected, setSelected] = useState<{ meta: RecordingMeta; bytes: Uint8Array } | null>(null);

  const refresh = useCallback(() => {
    setLoading(true);
    client
      .recordings()
      .then((list) => {
        setRecordings(list.filter((meta) => meta.serverId === server.id).sort((a, b) => b.startedAt - a.startedAt));
        setError(null);
      })
      .catch((caught: unknown) => setError(caught instanceof Error ? caught.message : String(caught)))
      .finally(() => setLoading(false));
  }, [client, server.id]);
  useEffect(refresh, [refresh]);

  const fetchFile = useCallback(
    async (meta: RecordingMeta, then: (bytes: Uint8Array) => void) => {
      try {
        then(await client.recordingFile(meta.id));
      } catch (caught) {
        setError(caught instanceof Error ? caught.message : String(caught));
      }
    },
    [client],
  );

  return (
    <>
      <div className="console-toolbar">
        <span className="server">{server.name}</span>
        <span className="state">Recordings</span>
        <span className="spacer" />
        {selected ? <button onClick={() => setSelected(null)}>Back to the list</button> : null}
        <button onClick={refresh} disabled={loading}>{loading ? 'Loading…' : 'Refresh'}</button>
      </div>
      {error ? <p className="error-text" style={{ padding: 12 }}>{error}</p> : null}
      {selected ? (
        <RecordingPlayer key={selected.meta.id} meta={selected.meta} bytes={selected.bytes} />
      ) : (
        <div className="data-view" data-testid="recordings-view">
          <input
            data-testid="recordings-filter"
            type="search"
            placeholder="Filter by user, console (sol, serial, vnc) or date"
            aria-label="Filter recordings"
            value={query}
            onChange={(event) => setQuery(event.target.value)}
            style={{ margin: 8, width: 'calc(100% - 16px)', maxWidth: 420 }}
          />
          <table className="data">
            <thead><tr><th>Started</th><th>Duration</th><th>Size</th><th>Console</th><th>Server</th><th>User</th><th /></tr></thead>
            <tbody>
              {filterRecordings(recordings ?? [], query, (meta) => new Date(meta.startedAt).toLocaleString()).map((meta) => (
                <tr key={meta.id} data-testid="recording-row" data-recording-id={meta.id} data-kind={meta.kind}>
                  <td>{new Date(meta.startedAt).toLocaleString()}</td>
                  <td data-testid="recording-duration">{meta.lastWrittenAt === undefined ? '—' : formatDuration((meta.lastWrittenAt - meta.startedAt) / 1000)}</td>
                  <td data-testid="recording-size">{meta.bytes === undefined ? '—' : formatBytes(meta.bytes)}</td>
                  <td>{meta.kind.toUpperCase()}</td>
                  <td>{server.name}</td>
                  <td>{meta.user}</td>
                  <td style={{ textAlign: 'right' }}>
                    <button data-testid="recording-play" onClick={() => void fetchFile(meta, (bytes) => setSelected({ meta, bytes }))}>Play</button>{' '}
                    <button
                      data-testid="recording-download"
                      onClick={() => void fetchFile(meta, (bytes) => saveFile(bytes, `${meta.serverId}-${meta.kind}-${meta.id}.${meta.kind === 'vnc' ? 'rfb' : 'cast'}`, meta.kind === 'vnc' ? 'application/octet-stream' : 'application/x-asciicast'))}
                    >
                      Download
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {recordings && recordings.length === 0 ? <p style={{ padding: 12, color: 'var(--text-muted)' }}>No recordings of this server yet (the tenant's recording policy decides which consoles are recorded).</p> : null}
        </div>
      )}
    </>
  );
}

/** What a player screen does; one implementation for asciicast (xterm.js), one for RFB captures (noVNC). */
interface Screen {
  duration: number;
  /** Show the recording at `seconds`; `jumped` when this is a seek rather than the next frame. */
  render(seconds: number, jumped: boolean): void;
  dispose(): void;
}

function castScreen(element: HTMLElement, bytes: Uint8Array): Screen {
  const cast = parseAsciicast(new TextDecoder().decode(bytes));
  const terminal = new Terminal({ ...terminalOptions, cols: cast.width, rows: cast.height, cursorBlink: false, disableStdin: true });
  terminal.open(element);
  const renderer = new CastRenderer(cast, terminal);
  // The terminal keeps the recorded columns and rows; it is scaled to fill the pane instead.
  const inner = terminal.element;
  const fit = () => {
    if (!inner) return;
    inner.style.transform = '';
    const scale = fitScale({ width: element.clientWidth, height: element.clientHeight }, { width: inner.offsetWidth, height: inner.offsetHeight });
    inner.style.transformOrigin = '0 0';
    inner.style.transform = `scale(${scale})`;
    element.dataset.scale = scale.toFixed(3);
  };
  const observer = new ResizeObserver(fit);
  observer.observe(element);
  fit();
  element.dataset.cols = String(terminal.cols);
  element.dataset.rows = String(terminal.rows);
  return {
    duration: cast.duration,
    render: (seconds, jumped) => renderer.render(seconds, jumped),
    dispose: () => {
      observer.disconnect();
      terminal.dispose();
    },
  };
}

function rfbScreen(element: HTMLElement, bytes: Uint8Array): Screen {
  const records: RfbRecord[] = parseRfbCapture(bytes);
  let current: { rfb: RFB; channel: ReplayChannel } | null = null;
  const start = () => {
    current?.channel.close();
    element.replaceChildren();
    const channel = new ReplayChannel(records);
    const rfb = new RFB(element, channel, { shared: true });
    rfb.viewOnly = true;
    rfb.scaleViewport = true;
    rfb.background = '#0d1014';
    channel.open();
    current = { rfb, channel };
    return current;
  };
  let shownMs = 0;
  return {
    duration: (records.at(-1)?.timeMs ?? 0) / 1000,
    render(seconds, jumped) {
      const targetMs = seconds * 1000;
      // A framebuffer cannot be rewound: going back restarts the RFB and fast-forwards to the target.
      const screen = current === null || (jumped && targetMs < shownMs) ? start() : current;
      screen.channel.deliverUpTo(targetMs);
      shownMs = targetMs;
    },
    dispose() {
      current?.channel.close();
      current = null;
    },
  };
}

function RecordingPlayer({ meta, bytes }: { meta: RecordingMeta; bytes: Uint8Array }) {
  const host = useRef<HTMLDivElement>(null);
  const screen = useRef<Screen | null>(null);
  const clock = useRef<PlaybackClock | null>(null);
  const [position, setPosition] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeed] = useState(1);
  const [failure, setFailure] = useState<string | null>(null);

  useEffect(() => {
    const element = host.current;
    if (!element) return;
    let created: Screen;
    try {
      created = meta.kind === 'vnc' ? rfbScreen(element, bytes) : castScreen(element, bytes);
    } catch (error) {
      setFailure(error instanceof Error ? error.message : String(error));
      return;
    }
    screen.current = created;
    const playback = new PlaybackClock(created.duration, () => performance.now());
    clock.current = playback;
    created.render(0, true);
    playback.play();
    setPlaying(true);
    let frame = 0;
    let shown = -1;
    const tick = () => {
      const now = playback.position();
      if (now !== shown) {
        created.render(now, false);
        shown = now;
        setPosition(now);
      }
      if (playback.playing && playback.ended) {
        playback.pause();
        setPlaying(false);
      }
      frame = requestAnimationFrame(tick);
    };
    frame = requestAnimationFrame(tick);
    return () => {
      cancelAnimationFrame(frame);
      created.dispose();
      screen.current = null;
      clock.current = null;
    };
  }, [meta.kind, bytes]);

  const togglePlay = () => {
    const playback = clock.current;
    if (!playback) return;
    if (playback.playing) playback.pause();
    else {
      if (playback.ended) screen.current?.render(0, true);
      playback.play();
    }
    setPlaying(playback.playing);
  };
  const seek = (seconds: number) => {
    clock.current?.seek(seconds);
    screen.current?.render(clock.current?.position() ?? seconds, true);
    setPosition(clock.current?.position() ?? seconds);
  };
  const duration = clock.current?.duration ?? 0;

  return (
    <div className="recording-player" data-testid="recording-player" data-kind={meta.kind}>
      <div className="console-toolbar">
        <button data-testid="recording-toggle" onClick={togglePlay}>{playing ? 'Pause' : 'Play'}</button>
        <input
          data-testid="recording-seek"
          type="range"
          min={0}
          max={Math.max(duration, 0.001)}
          step="any"
          value={position}
          onChange={(event) => seek(Number(event.target.value))}
          style={{ flex: 1 }}
          aria-label="Position"
        />
        <span className="state" data-testid="recording-time">{formatTime(position)} / {formatTime(duration)}</span>
        <select
          aria-label="Speed"
          value={speed}
          onChange={(event) => {
            const next = Number(event.target.value);
            clock.current?.setSpeed(next);
            setSpeed(next);
          }}
        >
          {SPEEDS.map((value) => <option key={value} value={value}>{value}×</option>)}
        </select>
        <span className="server">{meta.kind.toUpperCase()} · {meta.user} · {new Date(meta.startedAt).toLocaleString()}</span>
      </div>
      {failure ? <p className="error-text" style={{ padding: 12 }}>Cannot play this recording: {failure}</p> : null}
      <div ref={host} className="console-surface" data-testid="recording-screen" style={{ position: 'relative' }} />
    </div>
  );
}
