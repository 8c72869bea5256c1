import type { RecordingMeta } from '@lightsout/shared';

/**
 * The recordings a list filter leaves: every word of the query must appear
 * (case-insensitive) in the user, the console kind or the start as shown
 * (`startedText`, the local date and time the row displays).
 */
export function filterRecordings<T extends RecordingMeta>(list: readonly T[], query: string, startedText: (meta: T) => string): T[] {
  const words = query.toLowerCase().split(/\s+/).filter((word) => word !== '');
  if (words.length === 0) return [...list];
  return list.filter((meta) => {
    const haystack = `${meta.user} ${meta.kind} ${startedText(meta)}`.toLowerCase();
    return words.every((word) => haystack.includes(word));
  });
}
