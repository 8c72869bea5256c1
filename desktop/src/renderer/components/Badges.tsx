import type { AgentStatus, PowerState } from '@lightsout/shared';

export function PowerBadge({ power }: { power: PowerState }) {
  return (
    <span className={`badge power-${power}`} data-testid="power-badge" data-power={power} title={`Power ${power}`}>
      <span className="dot" />
      {power}
    </span>
  );
}

export function AgentBadge({ agent }: { agent: AgentStatus }) {
  return (
    <span className={`badge agent-${agent}`} data-testid="agent-badge" data-agent={agent} title={`Agent ${agent}`}>
      {agent === 'online' ? 'agent' : 'agent offline'}
    </span>
  );
}
