import { useCallback, useEffect, useMemo, useState } from 'react';
import { RelayClient } from './api/relay-client.js';
import { ConsoleShell } from './components/ConsoleShell.js';
import { LoginScreen } from './components/LoginScreen.js';
import type { Platform } from './platform/index.js';
import type { Tab } from './state/workspace.js';

type Session = { phase: 'starting' } | { phase: 'logged-out'; error: string | null } | { phase: 'logged-in'; username: string };

function popOutTab(): Tab | null {
  const raw = new URLSearchParams(window.location.search).get('popout');
  if (!raw) return null;
  try {
    const tab = JSON.parse(raw) as Tab;
    return typeof tab.id === 'string' && typeof tab.kind === 'string' && typeof tab.title === 'string' ? tab : null;
  } catch {
    return null;
  }
}

/** Auth gate: restore or finish a login, then the console. */
export function App({ platform }: { platform: Platform }) {
  const [session, setSession] = useState<Session>({ phase: 'starting' });
  const popOut = useMemo(popOutTab, []);

  useEffect(() => {
    platform.auth.start().then(
      (user) => setSession(user ? { phase: 'logged-in', username: user.username } : { phase: 'logged-out', error: null }),
      (error: unknown) => setSession({ phase: 'logged-out', error: error instanceof Error ? error.message : String(error) }),
    );
  }, [platform]);

  const relayUrl = session.phase === 'logged-in' ? platform.relayUrl() : null;
  const client = useMemo(
    () =>
      relayUrl
        ? new RelayClient({
            baseUrl: relayUrl,
            accessToken: () => platform.auth.accessToken(),
            stepUp: () => platform.auth.stepUp(),
            unauthenticated: () => setSession({ phase: 'logged-out', error: 'Your session ended. Sign in again.' }),
          })
        : null,
    [relayUrl, platform],
  );

  const login = useCallback(async () => {
    const user = await platform.auth.login();
    if (user) setSession({ phase: 'logged-in', username: user.username });
  }, [platform]);

  const logout = useCallback(() => {
    void platform.auth.logout().finally(() => setSession({ phase: 'logged-out', error: null }));
  }, [platform]);

  if (session.phase === 'starting') return <div className="login"><p style={{ color: 'var(--text-muted)' }}>Starting…</p></div>;
  if (session.phase === 'logged-out' || !client) return <LoginScreen platform={platform} error={session.phase === 'logged-out' ? session.error : null} onLogin={login} />;
  return <ConsoleShell platform={platform} client={client} username={session.username} onLogout={logout} popOut={popOut} />;
}
