import type { KeyboardEvent } from 'react';

/** What the keyboard reaches with Tab (HTML's sequentially focusable elements, less those a click can only reach). */
const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"]), [contenteditable="true"]';

function focusables(root: ParentNode): HTMLElement[] {
  // getClientRects is empty for an element not rendered (display: none on it or an ancestor): Tab skips those too.
  return [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((element) => element.tabIndex >= 0 && element.getClientRects().length > 0);
}

/**
 * Tab and Shift+Tab through the panes in the order they are seen — p0, p1,
 * then p2, p3 of the grid — instead of the document's. A tab's body stays
 * where the tab strip put it in the document (moving it would remount its
 * console), and CSS grid areas place it, so the browser's own order follows
 * the strip, not the screen. Keys a console keeps for itself (xterm and
 * noVNC take Tab and stop it) never reach this handler.
 */
export function tabThroughPanesInVisualOrder(event: KeyboardEvent<HTMLElement>): void {
  if (event.key !== 'Tab' || event.ctrlKey || event.altKey || event.metaKey || event.defaultPrevented) return;
  const container = event.currentTarget;
  const panes = [...container.querySelectorAll<HTMLElement>(':scope > [data-pane]')]
    .filter((pane) => Number(pane.dataset['pane']) >= 0 && pane.getClientRects().length > 0)
    .sort((left, right) => Number(left.dataset['pane']) - Number(right.dataset['pane']));
  const ordered = panes.flatMap((pane) => focusables(pane));
  const index = ordered.indexOf(document.activeElement as HTMLElement);
  if (index < 0) return;
  const next = ordered[index + (event.shiftKey ? -1 : 1)];
  if (next) {
    event.preventDefault();
    next.focus();
    return;
  }
  // Past the last pane (or before the first): on to what follows (precedes) the panes in the document, or
  // round to the document's start (end) when nothing does — never back into a pane the document puts later.
  const outside = focusables(document).filter((element) => !container.contains(element));
  const beyond = event.shiftKey
    ? (outside.filter((element) => container.compareDocumentPosition(element) & Node.DOCUMENT_POSITION_PRECEDING).at(-1) ?? outside.at(-1))
    : (outside.find((element) => container.compareDocumentPosition(element) & Node.DOCUMENT_POSITION_FOLLOWING) ?? outside[0]);
  if (beyond) {
    event.preventDefault();
    beyond.focus();
  }
}
