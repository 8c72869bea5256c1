import type { ServerConnection } from '@lightsout/shared';
import { EventTime } from './EventTime.js';
import { FactRow } from './FactRow.js';


/**
 * Which agent and which relay gateway carry the server now. The agent's
 * name and version reach provider staff only (the relay leaves them out for
 * everyone else), so the id stands in for the name then; the gateway is the
 * replica holding the agent's control connection — none while it is offline.
 */
export function ConnectionFacts({ connection, error }: { connection: ServerConnection | null | undefined; error: string | null }) {
  if (connection === null) return error ? <p className="status-critical" data-testid="server-connection-error">{error}</p> : <p className="muted">reading…</p>;
  if (connection === undefined) return <p className="muted" data-testid="server-connection">The relay knows no agent for this server.</p>;
  const { agent, gateway } = connection;
  return (
    <table className="facts" data-testid="server-connection" data-agent-state={agent.state} data-gateway-url={gateway?.url ?? ''}>
      <tbody>
        <FactRow label="Agent">
          <span data-testid="connection-agent">
            {agent.name ?? <code>{agent.id}</code>}
            {agent.version ? <span className="muted"> · version {agent.version}</span> : null}
            {' · '}
            <span className={agent.state === 'online' ? 'status-ok' : 'status-critical'}>{agent.state}</span>
          </span>
          {agent.name !== undefined ? <div className="muted"><code>{agent.id}</code></div> : null}
        </FactRow>
        <FactRow label="Agent site">{agent.region} · {agent.datacenter}</FactRow>
        <FactRow label="Last seen">{agent.lastSeenAt ? <span data-testid="connection-last-seen"><EventTime time={agent.lastSeenAt} /></span> : <span className="muted">never</span>}</FactRow>
        <FactRow label="Gateway">
          {gateway ? (
            <span data-testid="connection-gateway" title={gateway.replicaId === undefined ? undefined : `replica ${gateway.replicaId}`}>
              <code>{gateway.url}</code>
              <span className="muted"> · {gateway.region === null ? 'no region' : `region ${gateway.region}`}</span>
            </span>
          ) : <span className="muted" data-testid="connection-gateway">none — the agent is offline</span>}
        </FactRow>
      </tbody>
    </table>
  );
}
