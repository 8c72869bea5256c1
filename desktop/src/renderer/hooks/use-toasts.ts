import { useCallback, useState } from 'react';

export interface Toast {
  id: number;
  message: string;
  kind: 'info' | 'error';
}

let toastSerial = 0;

/** Short notices at the bottom: at most five, errors shown twice as long. */
export function useToasts(): { toasts: Toast[]; toast: (message: string, kind?: 'info' | 'error') => void } {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const toast = useCallback((message: string, kind: 'info' | 'error' = 'info') => {
    const id = ++toastSerial;
    setToasts((current) => [...current.slice(-4), { id, message, kind }]);
    setTimeout(() => setToasts((current) => current.filter((entry) => entry.id !== id)), kind === 'error' ? 8000 : 4000);
  }, []);
  return { toasts, toast };
}
