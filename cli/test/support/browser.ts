/**
 * The least browser that walks the embedded OP's device pages: keeps
 * cookies, follows redirects, submits forms. Test-only; a person with a real
 * browser does the same clicks.
 */
export interface HtmlForm {
  action: string;
  fields: Record<string, string>;
}

function decodeEntities(text: string): string {
  return text
    .replace(/&#(\d+);/g, (_match, code: string) => String.fromCharCode(Number(code)))
    .replace(/&quot;/g, '"')
    .replace(/&#x27;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function attribute(attributes: string, name: string): string | undefined {
  const match = new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`, 'i').exec(attributes);
  return match === null ? undefined : decodeEntities(match[1]!);
}

export function parseForm(html: string, pageUrl: string, select: { id?: string; actionIncludes?: string } = {}): HtmlForm {
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)];
  const form = forms.find(([, attributes = '']) => (select.id === undefined || attribute(attributes, 'id') === select.id) && (select.actionIncludes === undefined || (attribute(attributes, 'action') ?? '').includes(select.actionIncludes)));
  if (form === undefined) throw new Error(`no matching form on ${pageUrl}: ${html.slice(0, 400)}`);
  const fields: Record<string, string> = {};
  for (const [, input = ''] of form[2]!.matchAll(/<input\b([^>]*)>/gi)) {
    const name = attribute(input, 'name');
    if (name !== undefined) fields[name] = attribute(input, 'value') ?? '';
  }
  return { action: new URL(attribute(form[1] ?? '', 'action') ?? pageUrl, pageUrl).href, fields };
}

export class Browser {
  readonly #cookies = new Map<string, string>();

  async #request(url: string, form?: Record<string, string>): Promise<Response> {
    const headers: Record<string, string> = { accept: 'text/html' };
    if (this.#cookies.size > 0) headers['cookie'] = [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, { method: form ? 'POST' : 'GET', headers, redirect: 'manual', ...(form ? { body: new URLSearchParams(form).toString() } : {}) });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const equals = pair.indexOf('=');
      if (equals > 0) this.#cookies.set(pair.slice(0, equals).trim(), pair.slice(equals + 1).trim());
    }
    return response;
  }

  async navigate(url: string, form?: Record<string, string>): Promise<{ url: string; status: number; html: string }> {
    let current = url;
    let response = await this.#request(current, form);
    for (let hops = 0; hops < 20 && response.status >= 300 && response.status < 400; hops += 1) {
      current = new URL(response.headers.get('location') ?? '', current).href;
      await response.body?.cancel();
      response = await this.#request(current);
    }
    return { url: current, status: response.status, html: await response.text() };
  }
}

/** What the user does with the URL the CLI printed: open it, confirm the code, sign in. */
export async function approveDeviceLogin(verificationUrl: string, username: string, password: string): Promise<void> {
  const browser = new Browser();
  let page = await browser.navigate(verificationUrl);
  // With the code in the URL the OP may first serve a self-submitting form; a browser posts it.
  for (let step = 0; step < 3 && !page.html.includes('op.deviceConfirmForm'); step += 1) {
    const form = parseForm(page.html, page.url);
    page = await browser.navigate(form.action, form.fields);
  }
  const confirm = parseForm(page.html, page.url, { id: 'op.deviceConfirmForm' });
  const loginPage = await browser.navigate(confirm.action, { ...confirm.fields, confirm: 'yes' });
  const loginForm = parseForm(loginPage.html, loginPage.url, { actionIncludes: '/login' });
  const done = await browser.navigate(loginForm.action, { ...loginForm.fields, username, password });
  if (!done.html.includes('Signed in')) throw new Error(`device approval did not reach the success page (${done.status}): ${done.html.slice(0, 400)}`);
}
