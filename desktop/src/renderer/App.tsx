import type { LightsoutError } from '@lightsout/shared';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { RelayClient } from './api/relay-client.js';
import { type StepUpWording, stepUpWording } from './auth/step-up-wording.js';
import { Dialog } from './components/Dialog.js';
import { ConsoleShell } from './components/ConsoleShell.js';
import { LoginScreen } from './components/LoginScreen.js';
import { forgetWorkspaceLayout } from './components/use-workspace-layout.js';
import type { Platform } from './platform/index.js';
import type { Tab } from './state/workspace.js';

type Session = { phase: 'starting' } | { phase: 'logged-out'; error: string | null } | { phase: 'logged-in'; username: string; account: string | null };

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
  // The step-up prompt: one at a time; concurrent requests that need it share the answer.
  const [stepUpPrompt, setStepUpPrompt] = useState<StepUpWording | null>(null);
  const stepUpAnswer = useRef<Promise<boolean> | null>(null);
  const resolveStepUp = useRef<((proceed: boolean) => void) | null>(null);

  const stepUp = useCallback(
    (error: LightsoutError) => {
      stepUpAnswer.current ??= new Promise<boolean>((resolve) => {
        resolveStepUp.current = resolve;
        setStepUpPrompt(stepUpWording(error));
      }).finally(() => {
        stepUpAnswer.current = null;
        resolveStepUp.current = null;
        setStepUpPrompt(null);
      });
      return stepUpAnswer.current;
    },
    [],
  );

  useEffect(() => {
    platform.auth.start().then(
      (user) => setSession(user ? { phase: 'logged-in', username: user.username, account: user.account } : { phase: 'logged-out', error: null }),
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
            stepUp,
            unauthenticated: () => setSession({ phase: 'logged-out', error: 'Your session ended. Sign in again.' }),
          })
        : null,
    [relayUrl, platform, stepUp],
  );

  const login = useCallback(async () => {
    const user = await platform.auth.login();
    if (user) setSession({ phase: 'logged-in', username: user.username, account: user.account });
  }, [platform]);

  const account = session.phase === 'logged-in' ? session.account : null;
  const logout = useCallback(() => {
    // A shared browser's next user (maybe of another tenant) must not find this user's tabs, or their server names.
    forgetWorkspaceLayout(account);
    void platform.auth.logout().finally(() => setSession({ phase: 'logged-out', error: null }));
  }, [platform, account]);

  if (session.phase === 'starting') return <div className="login"><p style={{ color: 'var(--text-muted)' }}>Starting…</p></div>;
  if (session.phase === 'logged-out' || !client) return <LoginScreen platform={platform} error={session.phase === 'logged-out' ? session.error : null} onLogin={login} />;
  return (
    <>
      <ConsoleShell key={session.account ?? ''} platform={platform} client={client} username={session.username} account={session.account} onLogout={logout} popOut={popOut} />
      {stepUpPrompt ? (
        <Dialog
          title={stepUpPrompt.title}
          testId="step-up-dialog"
          onCancel={() => resolveStepUp.current?.(false)}
          actions={
            <>
              <button onClick={() => resolveStepUp.current?.(false)}>Cancel</button>
              <button
                className="primary"
                data-testid="step-up-button"
                onClick={() => {
                  const resolve = resolveStepUp.current;
                  platform.auth.stepUp({ mfa: stepUpPrompt.mfa }).then(
                    (proceed) => resolve?.(proceed),
                    () => resolve?.(false),
                  );
                }}
              >
                Sign in{stepUpPrompt.mfa ? ' with second factor' : ''}
              </button>
            </>
          }
        >
          <p data-testid="step-up-reason">{stepUpPrompt.reason}</p>
          <p>
            {platform.kind === 'web'
              ? 'A sign-in window opens; when you are done there, the action runs. Your tabs and consoles stay open.'
              : 'Sign-in continues in your browser; the action runs when you are back.'}
          </p>
        </Dialog>
      ) : null}
    </>
  );
}
