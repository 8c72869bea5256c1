import type { AgentStatus, BmcLinkStatus, PendingPower, PowerAction, PowerState, ServerMediaBadge } from '@lightsout/shared';

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

const PROTOCOL_LABEL: Record<string, string> = { 'ipmi-v2.0': 'IPMI 2.0', 'ipmi-v1.5': 'IPMI 1.5', redfish: 'Redfish' };

/**
 * The agent's link to the BMC, as `GET /v1/servers` reports it in `bmc`:
 * credentials the BMC rejected (logins held off until `retryAt`, so the
 * account is not locked), else what the last login negotiated — protocol
 * and IPMI cipher suite (`IPMI 2.0 · suite 3`). Nothing before any report.
 */
export function BmcLinkBadge({ bmc }: { bmc: BmcLinkStatus | null | undefined }) {
  if (!bmc) return null;
  if (bmc.credentials === 'rejected') {
    const retry = bmc.retryAt ? `; next login attempt ${new Date(bmc.retryAt).toLocaleString()}` : '';
    return (
      <span className="badge bmc-credentials-rejected" data-testid="bmc-link-badge" data-credentials="rejected" title={`The BMC rejected the configured credentials: logins are held off so the account is not locked${retry}. A tenant admin can retry at once after fixing them.`}>
        credentials rejected
      </span>
    );
  }
  if (!bmc.protocol) return null;
  const protocol = PROTOCOL_LABEL[bmc.protocol] ?? bmc.protocol;
  const label = bmc.cipherSuite === undefined ? protocol : `${protocol} · suite ${bmc.cipherSuite}`;
  const title = bmc.cipherSuite === undefined ? `Agent ↔ BMC: ${protocol}` : `Agent ↔ BMC: ${protocol}, RMCP+ cipher suite ${bmc.cipherSuite} (negotiated at the last login)`;
  return (
    <span className="badge bmc-link" data-testid="bmc-link-badge" data-protocol={bmc.protocol} data-cipher-suite={bmc.cipherSuite} title={title}>
      {label}
    </span>
  );
}
