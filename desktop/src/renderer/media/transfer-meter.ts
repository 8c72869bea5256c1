/**
 * Percent, rate and time left of a transfer, from (time, bytes) samples.
 * The rate is measured over the last few seconds, not since the start: a
 * transfer that paused, resumed or slowed down shows what it does now.
 */
export interface TransferSample {
  /** Milliseconds (any monotonic clock). */
  at: number;
  bytes: number;
}

export interface TransferReading {
  /** 0–100, whole. */
  percent: number;
  /** null until two samples at least half a second apart exist. */
  bytesPerSecond: number | null;
  /** null while the rate is unknown or zero. */
  secondsLeft: number | null;
}

export const RATE_WINDOW_MS = 5000;
const MIN_SPAN_MS = 500;

/** The samples with `sample` added and those older than the window dropped (one older sample stays, so the window is full). A step back in bytes (a restarted transfer) starts over. */
export function addSample(samples: readonly TransferSample[], sample: TransferSample, windowMs = RATE_WINDOW_MS): TransferSample[] {
  const last = samples.at(-1);
  if (last && sample.bytes < last.bytes) return [sample];
  const kept = [...samples, sample];
  let first = 0;
  while (first < kept.length - 2 && kept[first + 1]!.at <= sample.at - windowMs) first++;
  return kept.slice(first);
}

export function readTransfer(samples: readonly TransferSample[], total: number): TransferReading {
  const last = samples.at(-1);
  const bytes = last?.bytes ?? 0;
  const percent = total <= 0 ? (last ? 100 : 0) : Math.min(100, Math.floor((bytes / total) * 100));
  const first = samples[0];
  if (!first || !last || last.at - first.at < MIN_SPAN_MS) return { percent, bytesPerSecond: null, secondsLeft: null };
  const bytesPerSecond = ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  const secondsLeft = bytesPerSecond > 0 && total > 0 ? Math.max(0, Math.ceil((total - bytes) / bytesPerSecond)) : null;
  return { percent, bytesPerSecond, secondsLeft };
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 → "1.5 KiB"; one decimal below 10 of a unit, none above. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 || value >= 10 ? Math.round(value) : value.toFixed(1)} ${UNITS[unit]}`;
}

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** 75 → "1 min 15 s", 3700 → "1 h 2 min". */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  if (whole < 60) return `${whole} s`;
  if (whole < 3600) return `${Math.floor(whole / 60)} min${whole % 60 ? ` ${whole % 60} s` : ''}`;
  return `${Math.floor(whole / 3600)} h${Math.floor((whole % 3600) / 60) ? ` ${Math.floor((whole % 3600) / 60)} min` : ''}`;
}

/** "42% · 8.1 MiB/s · 3 s left", leaving out what is not known yet. */
export function describeTransfer(reading: TransferReading): string {
  const parts = [`${reading.percent}%`];
  if (reading.bytesPerSecond !== null) parts.push(formatRate(reading.bytesPerSecond));
  if (reading.secondsLeft !== null) parts.push(`${formatDuration(reading.secondsLeft)} left`);
  return parts.join(' · ');
}
