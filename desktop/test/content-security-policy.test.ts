import { readFileSync } from 'node:fs';
import type { IndexHtmlTransformHook } from 'vite';
import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, cspPlugin } from '../vite/content-security-policy.js';

const directives = (policy: string) => new Map(policy.split('; ').map((directive) => [directive.split(' ')[0]!, directive.split(' ').slice(1)]));

describe('build-time Content-Security-Policy', () => {
  it('never allows inline or evaluated script, plugins, frames or a foreign base', () => {
    for (const target of ['desktop'] as const) {
      const policy = directives(contentSecurityPolicy(target));
      expect(policy.get('default-src')).toEqual(["'none'"]);
      expect(policy.get('script-src')).toEqual(["'self'"]);
      expect(policy.get('object-src')).toEqual(["'none'"]);
      expect(policy.get('frame-src')).toEqual(["'none'"]);
      expect(policy.get('base-uri')).toEqual(["'none'"]);
    }
  });

  it('lets the desktop talk to TLS anywhere and plaintext on loopback only', () => {
    const desktop = directives(contentSecurityPolicy('desktop')).get('connect-src')!;
    expect(desktop).toEqual(expect.arrayContaining(['https:', 'wss:']));
    expect(desktop.filter((source) => source.startsWith('http:') || source.startsWith('ws:'))).toEqual(['http://127.0.0.1:*', 'ws://127.0.0.1:*', 'http://localhost:*', 'ws://localhost:*']);
  });

  it('writes the policy right after the charset, before any script', () => {
    const hook = (cspPlugin('desktop').transformIndexHtml as { handler: IndexHtmlTransformHook }).handler;
    const html = '<!doctype html><html><head>\n<meta charset="UTF-8">\n<script type="module" src="./main.tsx"></script></head></html>';
    const out = hook.call({} as never, html, {} as never) as string;
    expect(out.indexOf('Content-Security-Policy')).toBeGreaterThan(out.indexOf('charset'));
    expect(out.indexOf('Content-Security-Policy')).toBeLessThan(out.indexOf('<script'));
    expect(() => hook.call({} as never, '<html><head></head></html>', {} as never)).toThrow(/charset/);
  });

  it('the web console\'s build bakes no policy: the relay sends it as a header, naming the configured issuer', () => {
    const config = readFileSync(new URL('../vite.web.config.ts', import.meta.url), 'utf8');
    expect(config).not.toMatch(/cspPlugin/);
  });
});
