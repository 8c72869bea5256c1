import type { FleetSummary } from '@lightsout/shared';
import { useEffect, useRef, useState } from 'react';
import { useApp } from '../app-context.js';
import { count } from '../components/count.js';
import { FleetEvents } from './FleetEvents.js';

/** At most one summary request per this many milliseconds while the tree changes. */
const REFRESH_MS = 2000;

/**
 * The fleet at a glance: one `GET /v1/fleet/summary` (counted by the relay,
 * not over 10,000 servers here), fetched again when the live feed changes a
 * server. Every number opens the tree filtered to exactly its servers.
 */
export function FleetOverview() {
  const { client, servers, filterTree } = useApp();
  const [summary, setSummary] = useState<FleetSummary | null>(null);
  const [error, setError] = useState<string | null>(null);
  const lastFetch = useRef(0);

  useEffect(() => {
    let live = true;
    const fetchNow = () => {
      lastFetch.current = Date.now();
      client.fleetSummary().then(
        (next) => {
          if (!live) return;
          setSummary(next);
          setError(null);
        },
        (caught: unknown) => live && setError(caught instanceof Error ? caught.message : String(caught)),
      );
    };
    const wait = Math.max(0, lastFetch.current + REFRESH_MS - Date.now());
    const timer = setTimeout(fetchNow, wait);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [client, servers]);

  const link = (query: string, value: number, label: string, tone?: 'danger' | 'warn' | 'muted') => (
    <button className={`fleet-count${tone ? ` tone-${tone}` : ''}${value === 0 ? ' zero' : ''}`} data-testid="fleet-count" data-filter={query} data-value={value} title={`Show in the tree: ${query}`} onClick={() => filterTree(query)}>
      <span className="value">{value.toLocaleString()}</span>
      <span className="label">{label}</span>
    </button>
  );

  return (
    <>
      <div className="console-toolbar">
        <span className="server">Fleet overview</span>
        <span className="state">{summary ? `${count(summary.servers, 'server')} · as of ${new Date(summary.at).toLocaleTimeString()}` : 'Loading…'}</span>
        <span className="spacer" />
        <button onClick={() => filterTree('')}>Clear the tree filter</button>
      </div>
      <div className="data-view fleet-overview" data-testid="fleet-overview">
        {error ? <p className="error-text">{error}</p> : null}
        {summary ? (
          <>
            <section>
              <h3>Power</h3>
              <div className="fleet-counts">
                {link('power:on', summary.power.on, 'on')}
                {link('power:off', summary.power.off, 'off', 'muted')}
                {link('power:unknown', summary.power.unknown, 'unknown', 'warn')}
                {link('power:pending', summary.power.pending, 'action pending')}
              </div>
            </section>
            <section>
              <h3>BMC links</h3>
              <div className="fleet-counts">
                {link('bmc:rejected', summary.bmc.credentialsRejected, 'credentials rejected', 'danger')}
                {link('bmc:unreachable', summary.bmc.unreachable, 'unreachable', 'danger')}
              </div>
            </section>
            <section>
              <h3>In use</h3>
              <div className="fleet-counts">
                {link('console:active', summary.consoles.servers, summary.consoles.sessions > 0 ? `${summary.consoles.servers === 1 ? 'server' : 'servers'} with ${count(summary.consoles.sessions, 'console')} open` : 'servers with a console open')}
                {link('media:mounted', summary.mounts, `${summary.mounts === 1 ? 'image' : 'images'} mounted`)}
              </div>
            </section>
            <section className="wide">
              <h3>Agents by datacenter</h3>
              <table className="data" data-testid="fleet-datacenters">
                <thead><tr><th>Region</th><th>Datacenter</th><th style={{ textAlign: 'right' }}>Servers</th><th style={{ textAlign: 'right' }}>Agents online</th><th style={{ textAlign: 'right' }}>Agents offline</th><th style={{ textAlign: 'right' }}>Servers unreachable through them</th></tr></thead>
                <tbody>
                  {summary.datacenters.map((entry) => {
                    const dc = `dc:${entry.region}/${entry.datacenter}`;
                    return (
                      <tr key={`${entry.region}/${entry.datacenter}`} data-testid="fleet-datacenter" data-datacenter={entry.datacenter}>
                        <td>{entry.region}</td>
                        <td><button className="link" onClick={() => filterTree(dc)}>{entry.datacenter}</button></td>
                        <td className="number"><button className="link" data-testid="fleet-datacenter-servers" onClick={() => filterTree(dc)}>{entry.servers.toLocaleString()}</button></td>
                        <td className="number status-ok">{entry.agentsOnline}</td>
                        <td className={`number${entry.agentsOffline > 0 ? ' status-critical' : ''}`}>{entry.agentsOffline}</td>
                        <td className="number">{entry.serversBehindOfflineAgents > 0 ? <button className="link status-critical" onClick={() => filterTree(`${dc} agent:offline`)}>{entry.serversBehindOfflineAgents.toLocaleString()}</button> : 0}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </section>
            <FleetEvents />
          </>
        ) : null}
      </div>
    </>
  );
}
