/**
 * Server-rendered pages of the embedded OP: login, device code entry and
 * confirmation, success and error. Plain HTML forms with no script, so a
 * person with any browser and a test doing form posts both get through.
 * Every interpolated value goes through escapeHtml.
 */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

const STYLE = `
  :root{color-scheme:light dark;--accent:#2563eb;--muted:#6b7280;--border:#d1d5db;--error:#b91c1c}
  *{box-sizing:border-box}
  body{margin:0;min-height:100vh;display:grid;place-items:center;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;background:Canvas;color:CanvasText}
  main{width:min(24rem,100% - 2rem);padding:2rem;border:1px solid var(--border);border-radius:.75rem}
  h1{margin:0 0 .25rem;font-size:1.4rem} p{margin:.25rem 0 1rem;color:var(--muted)}
  label{display:block;margin:.75rem 0 .25rem;font-weight:600}
  input[type=text],input[type=password]{width:100%;padding:.6rem .7rem;font:inherit;border:1px solid var(--border);border-radius:.4rem;background:Field;color:FieldText}
  button{width:100%;margin-top:1.25rem;padding:.65rem;font:inherit;font-weight:600;border:0;border-radius:.4rem;background:var(--accent);color:#fff;cursor:pointer}
  button.secondary{background:transparent;color:var(--muted);margin-top:.5rem}
  .error{color:var(--error);font-weight:600} code{font-size:1.5rem;letter-spacing:.15em}
  .brand{font-size:.8rem;letter-spacing:.12em;text-transform:uppercase;color:var(--muted)}`;

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Lightsout</title><style>${STYLE}</style></head>
<body><main><div class="brand">Lightsout</div>${body}</main></body></html>`;
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
