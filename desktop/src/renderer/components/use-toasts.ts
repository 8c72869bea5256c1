import { useCallback, useState } from 'react';

export type ToastKind = 'info' | 'error';
export interface Toast { id: number; message: string; kind: ToastKind }

// Keys for the toast list: module-wide, so they stay unique across re-mounts.
let toastSerial = 0;

/**
 * The short messages in the corner: at most five at once (the oldest goes),
 * an error stays twice as long as news, since it is the one to act on.
 */
export function useToasts(): { toasts: readonly Toast[]; toast: (message: string, kind?: ToastKind) => void } {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const toast = useCallback((message: string, kind: ToastKind = 'info') => {
    const id = ++toastSerial;
    setToasts((current) => [...current.slice(-4), { id, message, kind }]);
    setTimeout(() => setToasts((current) => current.filter((entry) => entry.id !== id)), kind === 'error' ? 8000 : 4000);
  }, []);
  return { toasts, toast };
}
