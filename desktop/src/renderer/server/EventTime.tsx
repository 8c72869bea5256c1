import { localAndUtc } from './times.js';

/** A time in the viewer's zone, with UTC on hover; a BMC without a set clock has none. */
export function EventTime({ time }: { time: string | null }) {
  const shown = localAndUtc(time);
  return shown ? <time dateTime={time!} title={shown.utc}>{shown.local}</time> : <span className="muted" title="The BMC's clock was not set when this was logged">pre-init</span>;
}
