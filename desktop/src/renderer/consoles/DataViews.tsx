import type { SelEntry, Sensor, ServerView } from '@lightsout/shared';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useApp } from '../app-context.js';

/**
 * Reads once when shown and on Refresh; `reachable` is whether the server's
 * agent is online (the live feed says). When it comes back, the view reads
 * again by itself, so an "agent offline" error goes away with its cause.
 */
function useLoad<T>(load: () => Promise<T>, reachable: boolean) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const refresh = useCallback(() => {
    setLoading(true);
    load()
      .then((value) => {
        setData(value);
        setError(null);
      })
      .catch((caught: unknown) => setError(caught instanceof Error ? caught.message : String(caught)))
      .finally(() => setLoading(false));
  }, [load]);
  useEffect(refresh, [refresh]);
  const wasReachable = useRef(reachable);
  useEffect(() => {
    if (reachable && !wasReachable.current) refresh();
    wasReachable.current = reachable;
  }, [reachable, refresh]);
  return { data, error, loading, refresh };
}

function Toolbar({ server, title, loading, refresh }: { server: ServerView; title: string; loading: boolean; refresh(): void }) {
  return (
    <>
      <div className="console-toolbar">
        <span className="server">{server.name}</span>
        <span className="state">{title}</span>
        <span className="spacer" />
        <button onClick={refresh} disabled={loading}>{loading ? 'Loading…' : 'Refresh'}</button>
      </div>
      {server.agent === 'offline' ? (
        <div className="console-notice" role="status" data-testid="agent-offline-notice">
          The agent of this server is offline: what is shown was read before. It is read again when the agent is back.
        </div>
      ) : null}
    </>
  );
}

export function SensorsView({ server }: { server: ServerView }) {
  const { client } = useApp();
  const load = useCallback(() => client.sensors(server.id).then((list) => list.sensors), [client, server.id]);
  const { data, error, loading, refresh } = useLoad<Sensor[]>(load, server.agent === 'online');
  return (
    <>
      <Toolbar server={server} title="Sensors" loading={loading} refresh={refresh} />
      <div className="data-view" data-testid="sensors-view">
        {error ? <p className="error-text" style={{ padding: 12 }} data-testid="data-view-error">{error}</p> : null}
        <table className="data">
          <thead><tr><th>Sensor</th><th>Type</th><th style={{ textAlign: 'right' }}>Value</th><th>Unit</th><th>Status</th></tr></thead>
          <tbody>
            {(data ?? []).map((sensor) => (
              <tr key={sensor.name}>
                <td>{sensor.name}</td>
                <td>{sensor.type}</td>
                <td className="number">{sensor.value === null ? '—' : sensor.value}</td>
                <td>{sensor.unit}</td>
                <td className={`status-${sensor.status}`}>{sensor.status}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

export function SelView({ server }: { server: ServerView }) {
  const { client } = useApp();
  const load = useCallback(() => client.sel(server.id).then((list) => list.entries), [client, server.id]);
  const { data, error, loading, refresh } = useLoad<SelEntry[]>(load, server.agent === 'online');
  return (
    <>
      <Toolbar server={server} title="System event log" loading={loading} refresh={refresh} />
      <div className="data-view" data-testid="sel-view">
        {error ? <p className="error-text" style={{ padding: 12 }} data-testid="data-view-error">{error}</p> : null}
        <table className="data">
          <thead><tr><th>#</th><th>Time</th><th>Sensor</th><th>Event</th><th>Direction</th><th>Raw</th></tr></thead>
          <tbody>
            {(data ?? []).map((entry) => (
              <tr key={entry.id}>
                <td className="number">{entry.id}</td>
                <td>{entry.time ?? 'pre-init'}</td>
                <td>{entry.sensor}</td>
                <td>{entry.event}</td>
                <td>{entry.direction}</td>
                <td style={{ fontFamily: 'monospace', color: 'var(--text-muted)' }}>{entry.raw}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {data && data.length === 0 ? <p style={{ padding: 12, color: 'var(--text-muted)' }}>The event log is empty.</p> : null}
      </div>
    </>
  );
}
