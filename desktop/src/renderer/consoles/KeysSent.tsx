import { useCallback, useEffect, useRef, useState } from 'react';

export interface KeysNotice {
  text: string;
  ok: boolean;
}

/**
 * The toolbar's word on keys sent by a button or a macro (Ctrl-Alt-Del, a
 * BIOS sequence): they went out, or they did not and why. A finished notice
 * fades after a few seconds; one in progress stays.
 */
export function useKeysNotice(): [KeysNotice | null, (notice: KeysNotice | null, lasting?: boolean) => void] {
  const [notice, setNotice] = useState<KeysNotice | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const show = useCallback((next: KeysNotice | null, lasting = false) => {
    clearTimeout(timer.current);
    setNotice(next);
    if (next && !lasting) timer.current = setTimeout(() => setNotice(null), next.ok ? 8000 : 15_000);
  }, []);
  useEffect(() => () => clearTimeout(timer.current), []);
  return [notice, show];
}

/** Over the console's top right corner, not in the toolbar: a toolbar squeezed into a split pane would hide it. */
export function KeysSent({ notice }: { notice: KeysNotice | null }) {
  if (!notice) return null;
  return (
    <div className={`console-notice keys-sent${notice.ok ? '' : ' failed'}`} role="status" data-testid="keys-sent" data-ok={String(notice.ok)}>
      {notice.ok ? '✓ ' : '✗ '}
      {notice.text}
    </div>
  );
}
