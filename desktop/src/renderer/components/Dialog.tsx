import { type ReactNode, useEffect, useRef } from 'react';

/** A modal dialog: focus moves in (to Cancel when an action is destructive), Escape cancels, Enter on the focused button acts. */
export function Dialog({ title, children, actions, onCancel, testId }: { title: string; children: ReactNode; actions: ReactNode; onCancel(): void; testId?: string }) {
  const element = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    // A destructive dialog focuses its safe way out (Cancel), so Enter or a stray key never powers
    // off or resets a server; any other dialog focuses its primary button.
    const dialog = element.current;
    const safe = dialog?.querySelector('button.danger') ? 'button:not(.danger):not(.primary)' : 'button.primary';
    (dialog?.querySelector<HTMLElement>(safe) ?? dialog)?.focus();
    return () => previous?.focus();
  }, []);
  return (
    <div className="dialog-backdrop" onMouseDown={(event) => event.target === event.currentTarget && onCancel()}>
      <div
        ref={element}
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-label={title}
        data-testid={testId}
        tabIndex={-1}
        onKeyDown={(event) => {
          if (event.key === 'Escape') {
            event.stopPropagation();
            onCancel();
          }
        }}
      >
        <h2>{title}</h2>
        <div className="body">{children}</div>
        <div className="actions">{actions}</div>
      </div>
    </div>
  );
}
