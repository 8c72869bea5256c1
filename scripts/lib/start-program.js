/**
 * What a `bin/` file of the repository starts: the program's compiled bundle
 * (`npm run build`, scripts/build.ts) while it is current, its TypeScript
 * sources through tsx otherwise. Current means every workspace source the
 * bundle was built from still has the size and modification time recorded
 * beside it (`<bundle>.inputs.json`): an edit, a checkout or a rebase makes
 * the next start run the sources, never stale code. `LIGHTSOUT_FROM_SOURCE=1`
 * forces the sources. Installed packages do not come through here: they
 * start the bundle itself (docs/operations.md).
 *
 * Plain JavaScript: it runs before any TypeScript loader is registered.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** True when `bundle` exists with a manifest and every source in it is unchanged. */
export function bundleIsCurrent(bundle) {
  let manifest;
  try {
    statSync(bundle);
    manifest = JSON.parse(readFileSync(`${bundle}.inputs.json`, 'utf8'));
  } catch {
    return false;
  }
  const base = dirname(bundle);
  for (const input of manifest.inputs) {
    let stat;
    try {
      stat = statSync(resolve(base, input.path));
    } catch {
      return false;
    }
    if (stat.size !== input.size || stat.mtimeMs !== input.mtimeMs) return false;
  }
  return true;
}

/**
 * Starts the program of the `bin/` file at `binUrl`: `bundle` and `source` are
 * relative to it. A bundle runs itself; a source module that exports
 * `main(argv)` is run here and its exit code set.
 */
export async function startProgram(binUrl, bundle, source) {
  const bundlePath = fileURLToPath(new URL(bundle, binUrl));
  if (process.env.LIGHTSOUT_FROM_SOURCE !== '1' && bundleIsCurrent(bundlePath)) {
    await import(pathToFileURL(bundlePath).href);
    return;
  }
  const { register } = await import('tsx/esm/api');
  register();
  const module = await import(new URL(source, binUrl).href);
  if (typeof module.main === 'function') process.exitCode = await module.main(process.argv.slice(2));
}
