/**
 * Test-only: the least browser that can walk the embedded OP's pages. It
 * keeps cookies, follows redirects one by one (so a redirect to a loopback
 * callback can be captured instead of followed), and submits HTML forms.
 */
export interface HtmlForm {
  action: string;
  fields: Record<string, string>;
}

export class TestBrowser {
  private readonly cookies = new Map<string, string>();

  /** `headers` go on every request (e.g. X-Forwarded-For, to sign in "from" another address behind a trusted proxy). */
  constructor(private readonly headers: Record<string, string> = {}) {}

  private remember(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const equals = pair.indexOf('=');
      if (equals < 0) continue;
      const name = pair.slice(0, equals).trim();
      const value = pair.slice(equals + 1).trim();
      const expired = attributes.some((attribute) => /^\s*expires=/i.test(attribute) && Date.parse(attribute.split('=')[1] ?? '') < Date.now()) || attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** One request, no redirect following. */
  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...this.headers, accept: 'text/html' };
    if (this.cookies.size > 0) headers['cookie'] = this.cookieHeader();
    let body: string | undefined;
    if (init.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const response = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, redirect: 'manual' });
    this.remember(response);
    return response;
  }

  /**
   * Follow redirects (at most `limit`) until a page, or until `stop(url)` says
   * the next location is the end (e.g. the client's redirect_uri).
   */
  async navigate(url: string, init: { method?: string; form?: Record<string, string>; stop?: (location: string) => boolean } = {}): Promise<{ url: string; response: Response; html: string }> {
    let current = url;
    let response = await this.request(current, init);
    for (let hops = 0; hops < 20 && response.status >= 300 && response.status < 400; hops += 1) {
      const location = new URL(response.headers.get('location') ?? '', current).href;
      await response.body?.cancel();
      if (init.stop?.(location)) return { url: location, response, html: '' };
      current = location;
      response = await this.request(current);
    }
    if (response.status >= 300 && response.status < 400) throw new Error(`too many redirects from ${url}`);
    return { url: current, response, html: await response.text() };
  }
}

function decodeEntities(text: string): string {
  return text.replace(/&#(\d+);/g, (_match, code: string) => String.fromCharCode(Number(code))).replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

/** The form at `index` (or with id `id`) and its input values, action resolved against the page URL. */
export function parseForm(html: string, pageUrl: string, select: { id?: string; actionIncludes?: string } = {}): HtmlForm {
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)];
  const attribute = (attributes: string, name: string) => {
    const match = new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`, 'i').exec(attributes);
    return match === null ? undefined : decodeEntities(match[1]!);
  };
  const form = forms.find(([, attributes = '']) => (select.id === undefined || attribute(attributes, 'id') === select.id) && (select.actionIncludes === undefined || (attribute(attributes, 'action') ?? '').includes(select.actionIncludes)));
  if (form === undefined) throw new Error(`no matching form on ${pageUrl}: ${html.slice(0, 300)}`);
  const fields: Record<string, string> = {};
  for (const [, input = ''] of form[2]!.matchAll(/<input\b([^>]*)>/gi)) {
    const name = attribute(input, 'name');
    if (name !== undefined) fields[name] = attribute(input, 'value') ?? '';
  }
  return { action: new URL(attribute(form[1] ?? '', 'action') ?? pageUrl, pageUrl).href, fields };
}
