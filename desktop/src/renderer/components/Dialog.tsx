import { type ReactNode, useEffect, useRef } from 'react';

/** A modal dialog: focus moves in, Escape cancels, Enter on the primary button confirms. */
export function Dialog({ title, children, actions, onCancel, testId }: { title: string; children: ReactNode; actions: ReactNode; onCancel(): void; testId?: string }) {
  const element = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    (element.current?.querySelector<HTMLElement>('button.primary, button.danger') ?? element.current)?.focus();
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
