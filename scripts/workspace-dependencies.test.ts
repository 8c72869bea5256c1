import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The package graph of docs/architecture.md, held to the package.json files:
// every @lightsout/* package a workspace imports is one it declares, and
// what its production code (src/, outside tests and testing/) imports is a
// runtime dependency, never a devDependency. npm's hoisting makes an
// undeclared workspace import work in the repository, so only this notices.

const root = fileURLToPath(new URL('..', import.meta.url));
const SKIP = new Set(['node_modules', 'build', 'dist', 'out', 'test-results', 'playwright-report', 'gen']);
const IMPORT = /(?:from\s+|import\s*\(\s*)'(@lightsout\/[a-z-]+)/g;

interface Manifest {
  name: string;
  workspaces?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const manifestOf = (folder: string): Manifest => JSON.parse(readFileSync(join(root, folder, 'package.json'), 'utf8')) as Manifest;

function* sourceFiles(folder: string): Generator<string> {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (SKIP.has(entry.name) || entry.name.startsWith('.')) continue;
    const path = join(folder, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (/\.(ts|tsx|js|mjs)$/.test(entry.name)) yield path;
  }
}

/** Production code: under src/, not a test, not test support. */
const isProduction = (path: string) => /^src\//.test(path) && !/\.test\.tsx?$/.test(path) && !/(^|\/)testing\//.test(path);

const undeclared = (folder: string): string[] => {
  const manifest = manifestOf(folder);
  const runtime = new Set(Object.keys(manifest.dependencies ?? {}));
  const any = new Set([...runtime, ...Object.keys(manifest.devDependencies ?? {})]);
  const problems: string[] = [];
  for (const file of sourceFiles(join(root, folder))) {
    const path = relative(join(root, folder), file);
    for (const [, name] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      if (name === manifest.name) continue;
      if (!any.has(name!)) problems.push(`${folder}/${path} imports ${name} (not declared)`);
      else if (isProduction(path) && !runtime.has(name!)) problems.push(`${folder}/${path} imports ${name} (a devDependency, from production code)`);
    }
  }
  return [...new Set(problems)];
};

describe('every workspace declares the packages of ours it imports', () => {
  it.each(manifestOf('.').workspaces!)('%s', (folder) => {
    expect(undeclared(folder)).toEqual([]);
  });
});
