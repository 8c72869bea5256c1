/** An http(s) URL the agent could fetch, or why not (the tenant's URL policy is the relay's to judge). */
export function mediaUrlProblem(text: string): string | null {
  const trimmed = text.trim();
  if (trimmed === '') return 'Enter the image URL.';
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return 'Not a URL.';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'Only http:// and https:// URLs.';
  if (url.username || url.password) return 'No user name or password in the URL.';
  return null;
}
