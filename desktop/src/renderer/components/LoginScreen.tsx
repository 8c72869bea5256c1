import { useEffect, useRef, useState } from 'react';
import type { Platform } from '../platform/index.js';

const Logo = () => (
  <svg width="22" height="22" viewBox="0 0 64 64" aria-hidden="true">
    <rect width="64" height="64" rx="12" fill="#1d2733" />
    <rect x="14" y="16" width="36" height="8" rx="2" fill="#3b4a5c" />
    <rect x="14" y="28" width="36" height="8" rx="2" fill="#3b4a5c" />
    <rect x="14" y="40" width="36" height="8" rx="2" fill="#3b4a5c" />
    <circle cx="44" cy="20" r="2.5" fill="#4cc38a" />
    <circle cx="44" cy="32" r="2.5" fill="#4cc38a" />
    <circle cx="44" cy="44" r="2.5" fill="#e5a445" />
  </svg>
);
export { Logo };

/**
 * Web: straight on to the relay's sign-in form, unless there is something to
 * say first (a session that ended, a refused sign-in): a page with only a
 * *Sign in* button in front of the form made two sign-in pages. Desktop: the
 * relay URL first, so always this card.
 */
export function LoginScreen({ platform, error, onLogin }: { platform: Platform; error: string | null; onLogin(): Promise<void> }) {
  const [relayUrl, setRelayUrl] = useState(platform.relayUrl() ?? 'https://');
  const [busy, setBusy] = useState(false);
  const [localError, setLocalError] = useState<string | null>(null);
  const straightOn = platform.kind === 'web' && error === null && localError === null;
  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    await start();
  };
  const start = async () => {
    setBusy(true);
    setLocalError(null);
    try {
      if (platform.kind === 'desktop') await platform.setRelayUrl(relayUrl);
      await onLogin();
    } catch (caught) {
      setLocalError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setBusy(false);
    }
  };
  const started = useRef(false);
  useEffect(() => {
    // Once per mount: a redirect that fails shows the card with its error instead of trying again.
    if (!straightOn || started.current) return;
    started.current = true;
    void start();
  });
  if (straightOn) return <div className="login"><p className="muted" data-testid="login-redirect">Opening the sign-in form…</p></div>;
  return (
    <div className="login">
      <form className="card" onSubmit={(event) => void submit(event)}>
        <h1><Logo /> Lightsout</h1>
        <p>Remote access to your servers' BMCs: consoles, power, boot and virtual media.</p>
        {platform.kind === 'desktop' ? (
          <label>
            Relay URL
            <input type="url" required value={relayUrl} onChange={(event) => setRelayUrl(event.target.value)} style={{ width: '100%', marginTop: 4 }} />
          </label>
        ) : null}
        <button className="primary" type="submit" disabled={busy} data-testid="login-button">
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {platform.kind === 'desktop' ? <p style={{ fontSize: 12 }}>Sign-in continues in your browser, then returns here.</p> : null}
        {error || localError ? <p className="error-text" role="alert">{localError ?? error}</p> : null}
      </form>
    </div>
  );
}
