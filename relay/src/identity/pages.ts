/**
 * Server-rendered pages of the embedded OP: login, device code entry and
 * confirmation, success and error. Plain HTML forms with no script, so a
 * person with any browser and a test doing form posts both get through.
 * Every interpolated value goes through escapeHtml.
 */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

// The web console's own look (desktop/src/renderer/styles.css: its palette, type and login card), so
// signing in does not pass through a page that looks like another product's. The OS chooses dark or light.
const STYLE = `
  :root{color-scheme:dark;--bg:#1a1e23;--raised:#21262d;--sunken:#14171b;--border:#30363d;--text:#d3d9e0;--muted:#8b949e;--accent:#4c8dd6;--error:#e0605a}
  @media (prefers-color-scheme: light){:root{color-scheme:light;--bg:#f6f7f9;--raised:#fff;--sunken:#eceff3;--border:#d3d9e0;--text:#1f2328;--muted:#636c76;--accent:#2f6fb8;--error:#c93c37}}
  *{box-sizing:border-box}
  body{margin:0;min-height:100vh;display:grid;place-items:center;font:13px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;background:var(--bg);color:var(--text)}
  main{width:min(360px,100% - 2rem);padding:24px;background:var(--raised);border:1px solid var(--border);border-radius:8px}
  h1{margin:12px 0 4px;font-size:16px} p{margin:4px 0 12px;color:var(--muted)}
  label{display:block;margin:12px 0 4px;font-weight:600} small{font-weight:400;color:var(--muted)}
  input[type=text],input[type=password]{width:100%;min-height:30px;padding:4px 8px;font:inherit;border:1px solid var(--border);border-radius:4px;background:var(--sunken);color:var(--text)}
  button{width:100%;margin-top:16px;min-height:30px;padding:4px 10px;font:inherit;font-weight:600;border:1px solid var(--accent);border-radius:4px;background:var(--accent);color:#fff;cursor:pointer}
  button.secondary{background:transparent;border-color:var(--border);color:var(--text);margin-top:8px;font-weight:400}
  .error{color:var(--error);font-weight:600} code{font-size:1.5rem;letter-spacing:.15em}
  .brand{display:flex;align-items:center;gap:8px;font-size:18px;font-weight:600}`;

/** The console's logo (desktop/src/renderer/components/LoginScreen.tsx). */
const LOGO = `<svg width="22" height="22" viewBox="0 0 64 64" aria-hidden="true"><rect width="64" height="64" rx="12" fill="#1d2733"/><rect x="14" y="16" width="36" height="8" rx="2" fill="#3b4a5c"/><rect x="14" y="28" width="36" height="8" rx="2" fill="#3b4a5c"/><rect x="14" y="40" width="36" height="8" rx="2" fill="#3b4a5c"/><circle cx="44" cy="20" r="2.5" fill="#4cc38a"/><circle cx="44" cy="32" r="2.5" fill="#4cc38a"/><circle cx="44" cy="44" r="2.5" fill="#e5a445"/></svg>`;

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Lightsout</title><style>${STYLE}</style></head>
<body><main><div class="brand">${LOGO} Lightsout</div>${body}</main></body></html>`;
}

export function loginPage(options: { action: string; abortAction: string; clientName: string; username?: string; error?: string }): string {
  return page(
    'Sign in',
    `<h1>Sign in</h1><p>to continue to ${escapeHtml(options.clientName)}</p>
${options.error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(options.error)}</p>`}
<form method="post" action="${escapeHtml(options.action)}" autocomplete="on">
  <label for="username">Username <small>(name@tenant if your name is used in several tenants)</small></label>
  <input id="username" name="username" type="text" required autofocus autocomplete="username" value="${escapeHtml(options.username ?? '')}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" required autocomplete="current-password">
  <label for="otp">One-time code <small>(if your account has a second factor)</small></label>
  <input id="otp" name="otp" type="text" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code">
  <button type="submit">Sign in</button>
</form>
<form method="post" action="${escapeHtml(options.abortAction)}"><button class="secondary" type="submit">Cancel</button></form>`,
  );
}

/**
 * The approval an authorization for a redirect outside the relay needs
 * (interactions.ts): who asks, as whom, where the sign-in goes. Both
 * buttons are POST forms; nothing is granted by loading the page.
 */
export function consentPage(options: { action: string; abortAction: string; clientName: string; username: string; destination: string; local: boolean }): string {
  const where = options.local ? 'on this computer' : `at ${escapeHtml(options.destination)}`;
  return page(
    'Allow sign-in',
    `<h1>Allow sign-in?</h1>
<p><strong>${escapeHtml(options.clientName)}</strong> ${where} wants to sign in to Lightsout as <strong>${escapeHtml(options.username)}</strong>.</p>
<p>The sign-in goes to ${escapeHtml(options.destination)}.${options.local ? ' Any program on this computer can listen there.' : ''} Allow only if you just started signing in from that application.</p>
<form method="post" action="${escapeHtml(options.action)}"><button type="submit">Allow</button></form>
<form method="post" action="${escapeHtml(options.abortAction)}"><button class="secondary" type="submit">Cancel</button></form>`,
  );
}

/** `form` is oidc-provider's own form element (it carries the xsrf token); our buttons submit it. */
export function deviceInputPage(form: string, error: string | undefined): string {
  return page(
    'Connect a device',
    `<h1>Connect a device</h1>
${error === undefined ? '<p>Enter the code shown by the Lightsout CLI.</p>' : `<p class="error" role="alert">${escapeHtml(error)}</p>`}
${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`,
  );
}

export function deviceConfirmPage(form: string, clientName: string, userCode: string): string {
  return page(
    'Confirm device',
    `<h1>Confirm device</h1>
<p><strong>${escapeHtml(clientName)}</strong> is asking to sign in. Check that it shows this code:</p>
<p><code>${escapeHtml(userCode)}</code></p>
<p>If you did not start this, or the code differs, abort.</p>
${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button class="secondary" type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>`,
  );
}

export function messagePage(title: string, message: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}

export function logoutPage(form: string, host: string): string {
  return page(
    'Sign out',
    `<h1>Sign out</h1><p>Sign out of ${escapeHtml(host)}?</p>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button class="secondary" type="submit" form="op.logoutForm">No, stay signed in</button>`,
  );
}
