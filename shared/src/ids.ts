/**
 * Identifiers. Slugs are what operators type (`fra1`, `rack-12`, `web-01`);
 * they are lower-case, start with a letter or digit, and never contain `/`
 * or `..`, so they are safe in URLs and file names as they are.
 */
export const SLUG_PATTERN = '^[a-z0-9][a-z0-9._-]{0,62}$';
const slugRegExp = new RegExp(SLUG_PATTERN);

export type TenantId = string;
export type RegionId = string;
export type DatacenterId = string;
export type RackId = string;
export type ServerId = string;
export type AgentId = string;

export function isSlug(value: unknown): value is string {
  return typeof value === 'string' && slugRegExp.test(value) && !value.includes('..');
}
