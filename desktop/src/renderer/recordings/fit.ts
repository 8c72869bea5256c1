/**
 * The scale that shows a terminal of the recorded size (asciicast header
 * width × height, in cells) whole in the pane, as large as the pane allows:
 * the recording keeps its own line breaks and cursor positions, so it is
 * scaled rather than reflowed to the pane's columns.
 */
export function fitScale(pane: { width: number; height: number }, content: { width: number; height: number }): number {
  if (content.width <= 0 || content.height <= 0 || pane.width <= 0 || pane.height <= 0) return 1;
  return Math.min(pane.width / content.width, pane.height / content.height);
}
