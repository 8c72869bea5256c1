import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// The packaging config as electron-builder reads it. Packaging itself needs
// the Electron binary (docs/desktop.md), so this is where a wrong key shows.
const configPath = new URL('../../electron-builder.yml', import.meta.url);
const config = parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;

// electron-builder's own schema check (the one `electron-builder` runs before
// packaging): rejects unknown keys, so a misspelt fuse cannot pass silently.
const { validateConfiguration } = createRequire(import.meta.url)('app-builder-lib/out/util/config/config.js') as {
  validateConfiguration(config: unknown, debugLogger: { isEnabled: boolean; add(key: string, value: unknown): void }): Promise<void>;
};
const validate = (candidate: unknown) => validateConfiguration(candidate, { isEnabled: false, add: () => undefined });

describe('electron-builder.yml', () => {
  it('is a configuration the installed electron-builder accepts', async () => {
    await expect(validate(config)).resolves.toBeUndefined();
    await expect(validate({ ...config, electronFuses: { runAsnode: false } })).rejects.toThrow(/configuration object that does not match the API schema/);
  });

  it('packs the app into an asar archive (the asar fuses protect nothing without one)', () => {
    expect(config.asar === undefined || config.asar === true).toBe(true);
  });

  it('flips the Electron fuses a hardened app ships with', () => {
    expect(config.electronFuses).toEqual({
      // Stays on: node-pty closes a Windows terminal's processes through child_process.fork.
      runAsNode: true,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      loadBrowserProcessSpecificV8Snapshot: false,
      // Stays on while windows load file://…/app.asar/out/renderer/index.html
      // (main/windows.ts): off, Electron serves no file:// page from the asar.
      grantFileProtocolExtraPrivileges: true,
    });
  });
});
