// A local ESLint plugin for the one import rule no-restricted-imports cannot
// express: a relative import must stay inside its own package. Whether
// `../../x` leaves the package depends on where the importing file is, so
// the specifier is resolved against the file and the top-level folders
// compared (docs/architecture.md, "Import rules").
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The top-level folder (the package) a path lies in, or undefined outside the repository. */
function packageOf(path) {
  const inside = relative(root, path);
  if (inside.startsWith('..') || inside === '') return undefined;
  const [top, ...rest] = inside.split(sep);
  // Files at the root (eslint.config.js, vitest.config.ts) configure the workspace, not a package.
  return rest.length === 0 ? undefined : top;
}

const noCrossPackageRelative = {
  meta: {
    type: 'problem',
    docs: { description: 'Relative imports stay inside their package; another package is reached by its name and exports.' },
    messages: {
      crossPackage: "'{{specifier}}' leaves {{from}}/ for {{to}}/: import '@lightsout/{{to}}' (or one of its package exports) instead of reaching into its files (docs/architecture.md, import rules).",
    },
    schema: [],
  },
  create(context) {
    const from = packageOf(context.filename);
    const check = (node) => {
      const specifier = node?.type === 'Literal' && typeof node.value === 'string' ? node.value : undefined;
      if (from === undefined || specifier === undefined || !specifier.startsWith('.')) return;
      const to = packageOf(resolve(dirname(context.filename), specifier));
      if (to !== from) context.report({ node, messageId: 'crossPackage', data: { specifier, from, to: to ?? 'outside the repository' } });
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
    };
  },
};

// Test support, whatever the package: the lab of real peers, and a
// package's `testing/` folder or its `./testing` entry.
const TEST_SUPPORT = [
  /^@lightsout\/lab(\/.*)?$/,
  /^@lightsout\/integration(\/.*)?$/,
  /^@lightsout\/[^/]+\/testing(\/.*)?$/,
  /(^|\/)testing(\/|$)/,
];

// The shapes test support had before it had one home: `test-support`
// folders and files, `test/support`, `*.fixture` modules, a package's `test/`
// folder reached from `src/`. A module by such a name is refused everywhere,
// so the next helper goes into `testing/` instead of starting a new place.
const STRAY_TEST_SUPPORT = [
  /(^|\/)test-support(\/|\.js$|$)/,
  /(^|\/)test\/support(\/|$)/,
  /\.fixture(\.js)?$/,
  /^(\.\.\/)+test\//,
];

const noTestSupport = {
  meta: {
    type: 'problem',
    docs: { description: 'Production code never imports test support.' },
    messages: {
      testSupport: "'{{specifier}}' is test support: production code may not import it (only *.test.ts files and other test support may). Move what production needs out of the testing folder (docs/architecture.md, import rules).",
    },
    schema: [],
  },
  create(context) {
    const check = (node) => {
      const specifier = node?.type === 'Literal' && typeof node.value === 'string' ? node.value : undefined;
      if (specifier !== undefined && TEST_SUPPORT.some((pattern) => pattern.test(specifier))) context.report({ node, messageId: 'testSupport', data: { specifier } });
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
    };
  },
};

const oneTestingFolder = {
  meta: {
    type: 'problem',
    docs: { description: 'Test support lives in its package\'s testing/ folder.' },
    messages: {
      stray: "'{{specifier}}' is test support outside a testing/ folder: put it in the package's src/testing/ (exported as ./testing) and import it from there (docs/architecture.md, import rules).",
    },
    schema: [],
  },
  create(context) {
    const check = (node) => {
      const specifier = node?.type === 'Literal' && typeof node.value === 'string' ? node.value : undefined;
      if (specifier !== undefined && STRAY_TEST_SUPPORT.some((pattern) => pattern.test(specifier))) context.report({ node, messageId: 'stray', data: { specifier } });
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
    };
  },
};

export default {
  meta: { name: 'lightsout-boundaries' },
  rules: { 'no-cross-package-relative': noCrossPackageRelative, 'no-test-support': noTestSupport, 'one-testing-folder': oneTestingFolder },
};
