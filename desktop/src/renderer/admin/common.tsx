import { useCallback, useEffect, useState } from 'react';
import { errorText } from './admin-model.js';

/** A failed request: the relay's code and message, where the admin acted. */
export function ErrorLine({ error }: { error: string | null }) {
  return error === null ? null : <p className="error" role="alert" data-testid="admin-error">{error}</p>;
}

/**
 * Data a section shows, loaded by `load` and reloaded after each change:
 * `data` null while the first load runs; `error` what the relay answered.
 */
export function useLoaded<T>(load: () => Promise<T>): { data: T | null; error: string | null; reload(): Promise<void> } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reload = useCallback(async () => {
    try {
      setData(await load());
      setError(null);
    } catch (caught) {
      setError(errorText(caught));
    }
  }, [load]);
  useEffect(() => {
    setData(null);
    void reload();
  }, [reload]);
  return { data, error, reload };
}

/** Runs an admin action, keeping its error to show; resolves true when it succeeded. */
export function useAction(): { busy: boolean; error: string | null; run(action: () => Promise<unknown>): Promise<boolean>; clear(): void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      return true;
    } catch (caught) {
      setError(errorText(caught));
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, clear: () => setError(null) };
}

/**
 * A secret the relay shows once (a join token, an API token): the value,
 * a Copy button, and the warning that it will not be shown again.
 */
export function OneTimeSecret({ label, value, onDone }: { label: string; value: string; onDone(): void }) {
  const [copied, setCopied] = useState<'no' | 'yes' | 'failed'>('no');
  const copy = () => navigator.clipboard.writeText(value).then(() => setCopied('yes'), () => setCopied('failed'));
  return (
    <div className="one-time-secret" data-testid="one-time-secret">
      <p><strong>{label}</strong> — shown this once. Copy it now; the relay keeps only its hash.</p>
      <div className="secret-line">
        <code data-testid="one-time-value">{value}</code>
        <button className="primary" onClick={() => void copy()} data-testid="copy-one-time-value">{copied === 'yes' ? 'Copied' : 'Copy'}</button>
        <button onClick={onDone} data-testid="one-time-done">Done</button>
      </div>
      {copied === 'failed' ? <p className="error" role="alert">The clipboard refused; select the value and copy it by hand.</p> : null}
    </div>
  );
}

/** A table's empty or loading line, spanning its columns. */
export function EmptyRow({ columns, children }: { columns: number; children: string }) {
  return (
    <tr className="empty">
      <td colSpan={columns}>{children}</td>
    </tr>
  );
}
