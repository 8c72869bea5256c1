import type { AgentStatus, PowerState, ServerMediaBadge } from '@lightsout/shared';

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

/** Live console connections; nothing when there are none (the common case stays quiet). */
export function SessionsBadge({ sessions }: { sessions: number | undefined }) {
  if (!sessions) return null;
  return (
    <span className="badge sessions" data-testid="sessions-badge" data-sessions={sessions} title={`${sessions} live console connection${sessions === 1 ? '' : 's'}`}>
      ▶ {sessions}
    </span>
  );
}

/** A mounted virtual media image: compact in the row (the tree is narrow), the file, who and when in the tooltip. */
export function MediaBadge({ media }: { media: ServerMediaBadge | null | undefined }) {
  if (!media) return null;
  const details = [`Mounted: ${media.filename}`, media.by ? `by ${media.by}` : '', media.since ? `since ${new Date(media.since).toLocaleString()}` : ''].filter(Boolean).join(' ');
  return (
    <span className="badge media" data-testid="media-badge" data-filename={media.filename} title={details}>
      ⏏
    </span>
  );
}
