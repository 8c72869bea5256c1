import { useEffect, useLayoutEffect, useRef, useState } from 'react';

export type MenuEntry =
  | { kind: 'item'; label: string; hint?: string; danger?: boolean; disabled?: boolean; onSelect(): void; testId?: string }
  | { kind: 'separator' }
  | { kind: 'heading'; label: string };

/**
 * A popup menu at a screen position, kept inside the viewport; closes on
 * Escape, outside click, or after an item runs. Arrow keys move between items.
 */
export function Menu({ x, y, entries, onClose, label }: { x: number; y: number; entries: MenuEntry[]; onClose(): void; label: string }) {
  const element = useRef<HTMLDivElement>(null);
  const [position, setPosition] = useState({ left: x, top: y });

  useLayoutEffect(() => {
    const box = element.current?.getBoundingClientRect();
    if (!box) return;
    setPosition({ left: Math.max(4, Math.min(x, window.innerWidth - box.width - 4)), top: Math.max(4, Math.min(y, window.innerHeight - box.height - 4)) });
    element.current?.querySelector<HTMLElement>('[role=menuitem]:not(.disabled)')?.focus();
  }, [x, y]);

  useEffect(() => {
    const outside = (event: MouseEvent) => {
      if (!element.current?.contains(event.target as Node)) onClose();
    };
    const escape = (event: KeyboardEvent) => {
      if (event.key === 'Escape') onClose();
    };
    window.addEventListener('mousedown', outside, true);
    window.addEventListener('keydown', escape, true);
    window.addEventListener('blur', onClose);
    return () => {
      window.removeEventListener('mousedown', outside, true);
      window.removeEventListener('keydown', escape, true);
      window.removeEventListener('blur', onClose);
    };
  }, [onClose]);

  const move = (event: React.KeyboardEvent) => {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    event.preventDefault();
    const items = [...(element.current?.querySelectorAll<HTMLElement>('[role=menuitem]:not(.disabled)') ?? [])];
    const index = items.indexOf(document.activeElement as HTMLElement);
    items[(index + (event.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length]?.focus();
  };

  return (
    <div ref={element} className="menu" role="menu" aria-label={label} style={position} onKeyDown={move} onContextMenu={(event) => event.preventDefault()}>
      {entries.map((entry, index) => {
        if (entry.kind === 'separator') return <div key={index} className="separator" role="separator" />;
        if (entry.kind === 'heading') return <div key={index} className="heading">{entry.label}</div>;
        const run = () => {
          // A disabled item does nothing however it is activated: a script's or an assistive tool's click is not stopped by CSS.
          if (entry.disabled) return;
          onClose();
          entry.onSelect();
        };
        return (
          <div
            key={index}
            role="menuitem"
            tabIndex={-1}
            data-testid={entry.testId}
            className={`item${entry.danger ? ' danger' : ''}${entry.disabled ? ' disabled' : ''}`}
            aria-disabled={entry.disabled}
            onClick={run}
            onKeyDown={(event) => {
              if (event.key === 'Enter' || event.key === ' ') {
                event.preventDefault();
                run();
              }
            }}
          >
            {entry.label}
            {entry.hint ? <span className="hint">{entry.hint}</span> : null}
          </div>
        );
      })}
    </div>
  );
}
