import type { AgentStatus, PendingPower, PowerAction, PowerState, ServerMediaBadge } from '@lightsout/shared';

const PENDING_LABEL: Record<PowerAction, string> = { on: 'powering on…', off: 'powering off…', soft: 'shutting down…', cycle: 'cycling…', reset: 'resetting…' };

/**
 * The power state, or the action the BMC accepted and has not yet been seen
 * to carry out (`cycling…`); an unknown state says why in its tooltip.
 */
export function PowerBadge({ power, pending, reason }: { power: PowerState; pending?: PendingPower | null; reason?: string | null }) {
  const title = pending ? `${PENDING_LABEL[pending.action]} (target: ${pending.target}; the BMC still reports ${power})` : power === 'unknown' && reason ? `Power unknown: ${reason}` : `Power ${power}`;
  return (
    <span className={`badge power-${power}${pending ? ' pending' : ''}`} data-testid="power-badge" data-power={power} data-pending={pending?.action} title={title}>
      <span className="dot" />
      {pending ? PENDING_LABEL[pending.action] : power}
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
