/**
 * The line above the sensor chart: how many readings the agent kept, and
 * how often it takes them — by itself every `intervalSeconds` when it
 * samples in the background (0: only when someone reads), and on every
 * refresh of the open page.
 */
export function sensorHistoryNote(readings: number, intervalSeconds: number, refreshSeconds: number): string {
  const kept = `${readings} ${readings === 1 ? 'reading' : 'readings'} kept by the agent`;
  if (intervalSeconds > 0) return `${kept} · it reads them every ${intervalSeconds} s, and every ${refreshSeconds} s while this page is open`;
  return `${kept} · one every ${refreshSeconds} s while this page is open`;
}
