import type { FleetEvents as FleetEventList } from '@lightsout/shared';
import { useCallback, useEffect, useState } from 'react';
import { useApp } from '../app-context.js';
import { count } from '../components/count.js';
import { EventTime } from '../server/EventTime.js';

/** The relay keeps each server's log for a minute; asking more often than that reads nothing new. */
const REFRESH_MS = 60_000;

/**
 * The fleet's recent critical event-log entries (GET /v1/fleet/events): read
 * by the relay through the agents, at most 20, newest first. It says how
 * many servers' logs they come from, so an empty list over a fleet whose
 * logs were not all read is not taken for a quiet fleet. A server's name
 * opens its page (its own event log) and filters the tree to it.
 */
export function FleetEvents() {
  const { client, servers, filterTree, openView } = useApp();
  const [answer, setAnswer] = useState<FleetEventList | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reading, setReading] = useState(false);

  const read = useCallback(() => {
    setReading(true);
    return client.fleetEvents().then(
      (next) => {
        setAnswer(next);
        setError(null);
      },
      (caught: unknown) => setError(caught instanceof Error ? caught.message : String(caught)),
    ).finally(() => setReading(false));
  }, [client]);

  useEffect(() => {
    let live = true;
    const tick = () => live && void read();
    tick();
    const timer = setInterval(tick, REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [read]);

  const open = (serverId: string) => {
    filterTree(`id:${serverId}`);
    const server = servers.get(serverId);
    if (server) openView(server, 'server');
  };

  return (
    <section className="wide" data-testid="fleet-events-section">
      <h3>Recent critical events</h3>
      {error ? <p className="error-text">{error}</p> : null}
      {answer ? (
        <p className="muted" data-testid="fleet-events-coverage">
          {coverage(answer)}{' '}
          <button className="link" onClick={() => void read()} disabled={reading}>{reading ? 'Reading…' : 'Read again'}</button>
        </p>
      ) : reading ? <p className="muted">Reading the servers’ event logs…</p> : null}
      {answer && answer.events.length > 0 ? (
        <table className="data" data-testid="fleet-events">
          <thead><tr><th>Time</th><th>Server</th><th>Sensor</th><th>Event</th></tr></thead>
          <tbody>
            {answer.events.map((event, index) => (
              <tr key={`${event.serverId}-${event.time ?? ''}-${index}`} className="severity-critical" data-testid="fleet-event" data-server={event.serverId} data-severity="critical">
                <td><EventTime time={event.time} /></td>
                <td><button className="link" title="Open this server's page" onClick={() => open(event.serverId)}>{event.serverName}</button></td>
                <td>{event.sensor}</td>
                <td className="event">{event.event}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

/** What the list covers, in plain words: the logs read, those that could not be, those not read yet. */
function coverage(answer: FleetEventList): string {
  const parts = [`${answer.events.length === 0 ? 'No critical events' : count(answer.events.length, 'critical event')} in the event logs of ${count(answer.read, 'server')}`];
  if (answer.oldestRead) parts[0] += ` (read since ${new Date(answer.oldestRead).toLocaleTimeString()})`;
  if (answer.failed > 0) parts.push(`${count(answer.failed, 'log')} could not be read`);
  if (answer.unread > 0) parts.push(`${count(answer.unread, 'log')} not read yet`);
  if (answer.noEventLog > 0) parts.push(`${count(answer.noEventLog, 'server')} without a log to read (no event log, or agent offline)`);
  return `${parts.join('; ')}.`;
}
