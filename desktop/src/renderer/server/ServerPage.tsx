import type { MediaState, SelEntry, Sensor, SensorHistory, SensorThresholds, ServerConnection, ServerConsoleHolder, ServerIdentity, ServerView } from '@lightsout/shared';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { useApp } from '../app-context.js';
import { ConnectionFacts } from './ConnectionFacts.js';
import { EventTime } from './EventTime.js';
import { ConsoleHolders } from './ConsoleHolders.js';
import { IdentityFacts } from './IdentityFacts.js';
import { SensorChart } from './SensorChart.js';
import { sensorHistoryNote } from './sensor-note.js';
import { newestFirst, selSeverity, sensorSeverity } from './severity.js';
import { FactRow } from './FactRow.js';

/** While the page is shown, the sensors are read this often (the agent keeps each reading for the chart). */
const SENSOR_REFRESH_MS = 15_000;
const EVENT_ROWS = 50;

const THRESHOLD_COLUMNS: { key: keyof SensorThresholds; label: string; title: string }[] = [
  { key: 'lowerCritical', label: 'Low crit', title: 'lower critical' },
  { key: 'lowerNonCritical', label: 'Low warn', title: 'lower non-critical' },
  { key: 'upperNonCritical', label: 'High warn', title: 'upper non-critical' },
  { key: 'upperCritical', label: 'High crit', title: 'upper critical' },
];

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));


/**
 * One server's own page: what the relay knows of it (location, BMC link,
 * endpoints, capabilities), the agent and gateway carrying it, its virtual media, who is on its consoles,
 * its sensors with thresholds and a chart of the readings its agent kept,
 * and its event log, newest first.
 */
export function ServerPage({ server, visible }: { server: ServerView; visible: boolean }) {
  const { client, showServerMenu } = useApp();
  const [sensors, setSensors] = useState<Sensor[] | null>(null);
  const [history, setHistory] = useState<SensorHistory | null>(null);
  const [sensorError, setSensorError] = useState<string | null>(null);
  const [events, setEvents] = useState<SelEntry[] | null>(null);
  const [eventError, setEventError] = useState<string | null>(null);
  const [media, setMedia] = useState<MediaState | null>(null);
  const [identity, setIdentity] = useState<ServerIdentity | null>(null);
  const [identityError, setIdentityError] = useState<string | null>(null);
  // null: not read yet; undefined: the relay knows no agent for the server.
  const [connection, setConnection] = useState<ServerConnection | null | undefined>(null);
  const [connectionError, setConnectionError] = useState<string | null>(null);
  /** Who is on the server's consoles, from the same detail as the connection (undefined before it, or from an older relay). */
  const [consoles, setConsoles] = useState<ServerConsoleHolder[] | undefined>(undefined);
  const [chartType, setChartType] = useState<string | null>(null);
  const has = (capability: ServerView['capabilities'][number]) => server.capabilities.includes(capability);
  const canSensors = has('sensors');
  const canSel = has('sel');
  const canMedia = has('media');

  const readSensors = useCallback(async () => {
    try {
      setSensors((await client.sensors(server.id)).sensors);
      setHistory(await client.sensorHistory(server.id));
      setSensorError(null);
    } catch (error) {
      setSensorError(message(error));
    }
  }, [client, server.id]);

  const readEvents = useCallback(async () => {
    try {
      setEvents((await client.sel(server.id)).entries);
      setEventError(null);
    } catch (error) {
      setEventError(message(error));
    }
  }, [client, server.id]);

  useEffect(() => {
    if (!visible || !canSensors) return;
    void readSensors();
    const timer = setInterval(() => void readSensors(), SENSOR_REFRESH_MS);
    return () => clearInterval(timer);
  }, [visible, canSensors, readSensors]);

  useEffect(() => {
    if (visible && canSel) void readEvents();
  }, [visible, canSel, readEvents]);

  // What the machine is changes with a firmware update at most: read once when the page is shown.
  const readIdentity = useCallback(async () => {
    try {
      setIdentity(await client.identity(server.id));
      setIdentityError(null);
    } catch (error) {
      setIdentityError(message(error));
    }
  }, [client, server.id]);

  useEffect(() => {
    if (visible) void readIdentity();
  }, [visible, readIdentity]);

  const readConnection = useCallback(async () => {
    try {
      const detail = await client.server(server.id);
      setConnection(detail.connection);
      setConsoles(detail.consoles);
      setConnectionError(null);
    } catch (error) {
      setConnectionError(message(error));
    }
  }, [client, server.id]);

  // Which gateway holds the agent changes when the agent comes, goes or moves, and who is on its consoles when a leg
  // starts or ends at any replica. The live feed sends the server again then (a new object), even when it only moved
  // between gateways and stayed online: read again on every one.
  useEffect(() => {
    if (visible) void readConnection();
  }, [visible, readConnection, server]);

  // The media badge changes over the live feed; the full state (step, who, auto-eject) is read again then.
  useEffect(() => {
    if (!visible || !canMedia) return;
    client.request<MediaState>('GET', `/v1/servers/${encodeURIComponent(server.id)}/media`).then(setMedia, () => setMedia(null));
  }, [visible, canMedia, client, server.id, server.media?.filename, server.media?.since]);

  const types = useMemo(() => [...new Set((history?.sensors ?? []).filter((sensor) => sensor.unit !== 'discrete').map((sensor) => sensor.type))], [history]);
  const shownType = chartType && types.includes(chartType) ? chartType : (types.includes('temperature') ? 'temperature' : types[0]) ?? null;
  const columns = useMemo(() => (history && shownType ? history.sensors.flatMap((sensor, index) => (sensor.type === shownType ? [index] : [])) : []), [history, shownType]);
  const unit = history && columns.length > 0 ? history.sensors[columns[0]!]!.unit : '';
  const sortedEvents = useMemo(() => newestFirst(events ?? []).slice(0, EVENT_ROWS), [events]);
  const bmc = server.bmc;

  return (
    <>
      <div className="console-toolbar">
        <span className="server">{server.name}</span>
        <span className="state">{server.id} · {server.tenant}/{server.region}/{server.datacenter}/{server.rack}</span>
        <span className="spacer" />
        <button onClick={() => { void readSensors(); void readEvents(); void readIdentity(); void readConnection(); }}>Refresh</button>
        <button aria-label={`Actions for ${server.name}`} onClick={(event) => showServerMenu([server.id], event.clientX, event.clientY)}>Actions ▾</button>
      </div>
      <div className="data-view server-page" data-testid="server-page" data-server-id={server.id}>
        <section>
          <h3>Server</h3>
          <table className="facts" data-testid="server-identity">
            <tbody>
              <FactRow label="Name">{server.name}</FactRow>
              <FactRow label="Id">{server.id}</FactRow>
              <FactRow label="Location">{server.region} · {server.datacenter} · rack {server.rack}</FactRow>
              <FactRow label="Power">
                <span className={`power-${server.power}`}>{server.power}</span>
                {server.pendingPower ? <span className="muted"> · {server.pendingPower.action} pending since <EventTime time={server.pendingPower.since} /></span> : null}
                {server.stateAt ? <span className="muted"> · reported <EventTime time={server.stateAt} /></span> : null}
              </FactRow>
              <FactRow label="Labels">{Object.entries(server.labels).map(([key, value]) => `${key}=${value}`).join(', ') || '—'}</FactRow>
            </tbody>
          </table>
        </section>
        <section>
          <h3>Identity</h3>
          <IdentityFacts identity={identity} error={identityError} />
        </section>
        <section>
          <h3>BMC</h3>
          <table className="facts" data-testid="server-bmc">
            <tbody>
              {Object.entries(server.endpoints).map(([kind, address]) => <FactRow key={kind} label={kind === 'ipmi' ? 'IPMI' : kind === 'redfish' ? 'Redfish' : kind === 'vnc' ? 'VNC' : 'Serial'}><code>{address}</code></FactRow>)}
              <FactRow label="Capabilities">{server.capabilities.join(', ') || '—'}</FactRow>
              <FactRow label="Protocol">
                {bmc?.protocol ?? <span className="muted">not reported yet</span>}
                {bmc?.cipherSuite !== undefined ? <span data-testid="cipher-suite"> · cipher suite {bmc.cipherSuite}</span> : null}
              </FactRow>
              <FactRow label="Link">
                {bmc?.credentials === 'rejected' ? <span className="status-critical">credentials rejected{bmc.retryAt ? <> — next try <EventTime time={bmc.retryAt} /></> : null}</span> : bmc?.error ? <span className="status-critical" title={bmc.error.message}>{bmc.error.code}: {bmc.error.message}</span> : <span className="status-ok">ok</span>}
              </FactRow>
            </tbody>
          </table>
        </section>
        <section>
          <h3>Agent and gateway</h3>
          <ConnectionFacts connection={connection} error={connectionError} />
        </section>
        <section>
          <h3>Use</h3>
          <table className="facts">
            <tbody>
              <FactRow label="On its consoles"><ConsoleHolders consoles={consoles} sessions={server.sessions} /></FactRow>
              <FactRow label="Virtual media">
                {!canMedia ? <span className="muted">not offered (no Redfish)</span> : media?.image ? (
                  <span data-testid="server-media">{media.image.filename} <span className="muted">· {media.message}{media.mountedBy ? ` · by ${media.mountedBy}` : ''}{media.mountedAt ? ' · ' : ''}</span>{media.mountedAt ? <EventTime time={media.mountedAt} /> : null}</span>
                ) : server.media ? <span data-testid="server-media">{server.media.filename}</span> : <span className="muted">nothing mounted</span>}
              </FactRow>
              {server.lastPower ? <FactRow label="Last power action">{server.lastPower.action} {server.lastPower.confirmed ? 'confirmed' : 'not confirmed'} after {server.lastPower.seconds.toFixed(1)} s, <EventTime time={server.lastPower.at} /></FactRow> : null}
            </tbody>
          </table>
        </section>
        <section className="wide">
          <h3>Sensors</h3>
          {!canSensors ? <p className="muted">This BMC offers no sensor readings.</p> : null}
          {sensorError ? <p className="error-text">{sensorError}</p> : null}
          {history && columns.length > 0 ? (
            <>
              <div className="chart-bar" role="group" aria-label="Sensor type">
                {types.map((type) => <button key={type} className={type === shownType ? 'active' : ''} onClick={() => setChartType(type)}>{type}</button>)}
                <span className="muted" data-testid="sensor-history-note">{sensorHistoryNote(history.at.length, history.intervalSeconds, SENSOR_REFRESH_MS / 1000)}</span>
              </div>
              <SensorChart history={history} columns={columns} unit={unit} />
            </>
          ) : null}
          {sensors ? (
            <table className="data" data-testid="server-sensors">
              <thead>
                <tr>
                  <th>Sensor</th><th>Type</th><th style={{ textAlign: 'right' }}>Value</th><th>Unit</th>
                  {THRESHOLD_COLUMNS.map((column) => <th key={column.key} style={{ textAlign: 'right' }} title={column.title}>{column.label}</th>)}
                  <th>Status</th>
                </tr>
              </thead>
              <tbody>
                {sensors.map((sensor) => (
                  <tr key={sensor.name} className={`severity-${sensorSeverity(sensor)}`} data-testid="sensor-row">
                    <td>{sensor.name}</td>
                    <td>{sensor.type}</td>
                    <td className="number">{sensor.value ?? '—'}</td>
                    <td>{sensor.unit}</td>
                    {THRESHOLD_COLUMNS.map((column) => <td key={column.key} className="number threshold" data-threshold={column.key}>{sensor.thresholds?.[column.key] ?? ''}</td>)}
                    <td className={`status-${sensor.status}`}>{sensor.status}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : canSensors && !sensorError ? <p className="muted">Reading the sensors…</p> : null}
        </section>
        <section className="wide">
          <h3>Recent events</h3>
          {!canSel ? <p className="muted">This BMC offers no event log.</p> : null}
          {eventError ? <p className="error-text">{eventError}</p> : null}
          {events && events.length === 0 ? <p className="muted">The event log is empty.</p> : null}
          {sortedEvents.length > 0 ? (
            <table className="data" data-testid="server-events">
              <thead><tr><th>Time</th><th>#</th><th>Sensor</th><th>Event</th><th>Direction</th></tr></thead>
              <tbody>
                {sortedEvents.map((entry) => (
                  <tr key={entry.id} className={`severity-${selSeverity(entry)}`} data-testid="event-row" data-time={entry.time ?? ''} data-severity={selSeverity(entry)}>
                    <td><EventTime time={entry.time} /></td>
                    <td className="number">{entry.id}</td>
                    <td>{entry.sensor}</td>
                    <td className="event">{entry.event}</td>
                    <td>{entry.direction}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {events && events.length > EVENT_ROWS ? <p className="muted">The newest {EVENT_ROWS} of {events.length}; *System event log* in the actions menu lists all.</p> : null}
        </section>
      </div>
    </>
  );
}
