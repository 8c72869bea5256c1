/**
 * An ISO-8601 time as the viewer reads it (their zone) and as the BMC logs
 * are compared across sites (UTC), or null for none or an unreadable one.
 */
export function localAndUtc(iso: string | null, locale?: string, timeZone?: string): { local: string; utc: string } | null {
  if (iso === null) return null;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return null;
  const local = date.toLocaleString(locale, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', ...(timeZone ? { timeZone } : {}) });
  return { local, utc: `${date.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '')} UTC` };
}
