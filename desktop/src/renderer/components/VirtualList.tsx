import { type ReactNode, useCallback, useEffect, useRef, useState } from 'react';

/**
 * A windowed list with fixed-height rows: only the rows in view (plus a small
 * overscan) exist in the DOM, absolutely positioned inside a spacer of the full
 * height. Fixed heights are what a tree of servers needs, which keeps this to
 * a few lines instead of a dependency; 10,000 rows mount ~50 elements.
 */
export interface VirtualListProps<Row> {
  rows: readonly Row[];
  rowHeight: number;
  rowKey(row: Row): string;
  renderRow(row: Row, index: number, style: { top: number }): ReactNode;
  /** Index to bring into view (keyboard navigation). */
  scrollToIndex?: number | null;
  className?: string;
  overscan?: number;
  onKeyDown?: (event: React.KeyboardEvent<HTMLDivElement>) => void;
  /** Scrolls back to the top whenever this changes (e.g. the filter text). */
  resetKey?: string;
}

export function visibleRange(scrollTop: number, viewportHeight: number, rowHeight: number, count: number, overscan: number): { first: number; last: number } {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((scrollTop + viewportHeight) / rowHeight) + overscan);
  return { first, last };
}

export function VirtualList<Row>({ rows, rowHeight, rowKey, renderRow, scrollToIndex, className, overscan = 8, onKeyDown, resetKey }: VirtualListProps<Row>) {
  const container = useRef<HTMLDivElement>(null);
  const [viewport, setViewport] = useState({ scrollTop: 0, height: 600 });

  const measure = useCallback(() => {
    const element = container.current;
    if (element) setViewport({ scrollTop: element.scrollTop, height: element.clientHeight });
  }, []);

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    measure();
    return () => observer.disconnect();
  }, [measure]);

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    element.scrollTop = 0;
    setViewport({ scrollTop: 0, height: element.clientHeight });
  }, [resetKey]);

  useEffect(() => {
    const element = container.current;
    if (!element || scrollToIndex === null || scrollToIndex === undefined) return;
    const top = scrollToIndex * rowHeight;
    if (top < element.scrollTop) element.scrollTop = top;
    else if (top + rowHeight > element.scrollTop + element.clientHeight) element.scrollTop = top + rowHeight - element.clientHeight;
  }, [scrollToIndex, rowHeight]);

  const { first, last } = visibleRange(viewport.scrollTop, viewport.height, rowHeight, rows.length, overscan);
  const items: ReactNode[] = [];
  for (let index = first; index < last; index++) {
    const row = rows[index]!;
    items.push(<RowSlot key={rowKey(row)}>{renderRow(row, index, { top: index * rowHeight })}</RowSlot>);
  }
  return (
    <div ref={container} className={className} onScroll={measure} tabIndex={0} onKeyDown={onKeyDown} role="tree">
      <div style={{ height: rows.length * rowHeight, position: 'relative' }}>{items}</div>
    </div>
  );
}

function RowSlot({ children }: { children: ReactNode }) {
  return <>{children}</>;
}
