import type { ServerConsoleHolder } from '@lightsout/shared';
import { localAndUtc } from './times.js';

const KIND_NAMES: Record<ServerConsoleHolder['kind'], string> = { sol: 'SOL', serial: 'serial', vnc: 'VNC', web: 'web UI' };

/**
 * Who is on the server's consoles, at any relay replica: "alice (SOL,
 * control), bob (VNC, view)", each with since when on hover, or "nobody".
 * `consoles` is undefined before the server's detail was read, or from an
 * older relay that does not list them: the live count stands in then.
 */
export function ConsoleHolders({ consoles, sessions }: { consoles: readonly ServerConsoleHolder[] | undefined; sessions: number | undefined }) {
  if (consoles === undefined) return <span data-testid="server-consoles">{sessions ? `${sessions} open` : 'none open'}</span>;
  if (consoles.length === 0) return <span data-testid="server-consoles" className="muted">nobody</span>;
  return (
    <span data-testid="server-consoles">
      {consoles.map((holder, index) => (
        <span key={index} data-testid="console-holder" title={`since ${localAndUtc(holder.since)?.local ?? holder.since}`}>
          {index > 0 ? ', ' : ''}
          {holder.user} <span className="muted">({KIND_NAMES[holder.kind]}, {holder.mode})</span>
        </span>
      ))}
    </span>
  );
}
