// Lint = style checks + the import rules of docs/architecture.md ("Import
// rules", numbered there), enforced per folder. Each message says what IS
// allowed, so a failing build teaches the rule instead of just refusing.
// eslint-rules/boundaries.test.ts lints a bad import for each rule.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import boundaries from './eslint-rules/package-boundaries.js';

// Node built-ins by their exact specifier: a gitignore-style group would also
// match a folder of ours that happens to be called `stream` or `events`.
const nodeBuiltinsRegex = '^(node:.*|(fs|path|os|net|dgram|http|https|crypto|child_process|stream|events|url|util|tls|zlib|buffer|worker_threads)(/.*)?)$';
const otherPackages = (...names) => names.map((name) => ({ group: [`@lightsout/${name}`, `@lightsout/${name}/*`], message: `@lightsout/${name} is another application: share code through @lightsout/shared instead.` }));
// The CLI's Node entry (the stream-plane socket, the local VNC listener) is the one part of another application a Node process may share.
const cliNodeOnly = { regex: '^@lightsout/cli(?!/node$)(/.*)?$', message: 'Only @lightsout/cli/node (the Node side of a stream-plane client) may be imported from the CLI; share anything else through @lightsout/shared.' };
const relayTestingOnly = { regex: '^@lightsout/relay(?!/testing$)(/.*)?$', message: 'Tests may import @lightsout/relay/testing (startRelay, login helpers) and nothing else of the relay.' };

const restrict = (files, patterns, paths = [], ignores = []) => ({
  files,
  ignores,
  rules: { 'no-restricted-imports': ['error', { paths, patterns }] },
});

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/build/**', '**/dist/**', '**/out/**', '.tools/**', '**/test-results/**', '**/playwright-report/**', 'desktop/src/renderer/public/**', 'shared/src/rpc/gen/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    plugins: { lightsout: boundaries },
    rules: {
      'lightsout/no-cross-package-relative': 'error',
      'lightsout/one-testing-folder': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'off',
      eqeqeq: ['error', 'always'],
    },
  },
  // shared: pure. No Node, no DOM, no Electron, no other package.
  restrict(['shared/**/*.ts'], [
    { regex: nodeBuiltinsRegex, message: 'shared/ is pure: no Node APIs. Move I/O into relay/, agent/ or cli/ and pass data in.' },
    { group: ['electron', 'ws', 'fastify', 'react', 'react-dom'], message: 'shared/ is pure: only typebox, @bufbuild/protobuf (the RPC messages) and other shared/ files may be imported.' },
    ...otherPackages('relay', 'agent', 'cli', 'bmcsim', 'desktop'),
  ]),
  // bmc-wire: pure codecs. No Node, no DOM, no application package.
  restrict(['bmc-wire/src/**/*.ts'], [
    { regex: nodeBuiltinsRegex, message: 'bmc-wire/ is pure: no Node APIs. Take what the codecs need as a parameter (see IpmiCrypto) and bind node:* in the agent or bmcsim.' },
    { group: ['electron', 'ws', 'fastify', 'react', 'react-dom'], message: 'bmc-wire/ is pure: only @lightsout/shared and its own files may be imported.' },
    ...otherPackages('relay', 'agent', 'cli', 'bmcsim', 'desktop'),
  ], [], ['bmc-wire/src/**/*.test.ts', 'bmc-wire/src/testing/**']),
  // applications: shared + node; never each other, never desktop
  restrict(['relay/**/*.ts'], [...otherPackages('agent', 'bmcsim', 'desktop'), cliNodeOnly, { group: ['electron', 'react'], message: 'relay/ is a server: shared/ and node:* only.' }]),
  restrict(['cli/**/*.ts'], [...otherPackages('agent', 'relay', 'bmcsim', 'desktop'), { group: ['electron', 'react'], message: 'cli/ talks to the relay over HTTP/WebSocket: shared/ and node:* only.' }]),
  restrict(['agent/**/*.ts'], [...otherPackages('relay', 'cli', 'bmcsim', 'desktop'), { group: ['electron', 'react'], message: 'agent/ is a daemon: shared/ and node:* only.' }]),
  // Integration tests in cli/ and agent/ may run a real relay through its test
  // helper (@lightsout/relay/testing), and nothing else of the relay. Placed
  // before the agent driver rules so those still apply to driver tests.
  restrict(['cli/**/*.test.ts', 'cli/src/testing/**/*.ts'], [...otherPackages('agent', 'bmcsim', 'desktop'), relayTestingOnly, { group: ['electron', 'react'], message: 'cli/ talks to the relay over HTTP/WebSocket: shared/ and node:* only.' }]),
  restrict(['agent/**/*.test.ts'], [...otherPackages('cli', 'bmcsim', 'desktop'), relayTestingOnly, { group: ['electron', 'react'], message: 'agent/ is a daemon: shared/ and node:* only.' }]),
  // bmcsim is a BMC: it shares the codecs through @lightsout/bmc-wire, never the agent
  restrict(['bmcsim/**/*.ts'], [
    ...otherPackages('relay', 'cli', 'desktop'),
    { group: ['@lightsout/agent', '@lightsout/agent/*'], message: 'bmcsim/ must not depend on the agent: the codecs both sides speak live in @lightsout/bmc-wire.' },
  ]),
  // inside the agent: protocol drivers are independent of each other
  restrict(['agent/src/ipmi/**/*.ts'], [{ group: ['**/redfish/*', '**/rfb/*'], message: 'agent/src/ipmi must not import redfish/ or rfb/: move what they share up to agent/src/ or into shared/.' }, ...otherPackages('relay', 'cli', 'bmcsim', 'desktop')]),
  restrict(['agent/src/redfish/**/*.ts'], [{ group: ['**/ipmi/*', '**/rfb/*'], message: 'agent/src/redfish must not import ipmi/ or rfb/: move what they share up to agent/src/ or into shared/.' }, ...otherPackages('relay', 'cli', 'bmcsim', 'desktop')]),
  restrict(['agent/src/rfb/**/*.ts'], [{ group: ['**/ipmi/*', '**/redfish/*'], message: 'agent/src/rfb must not import ipmi/ or redfish/: move what they share up to agent/src/ or into shared/.' }, ...otherPackages('relay', 'cli', 'bmcsim', 'desktop')]),
  // desktop: one rule per runtime
  {
    files: ['desktop/src/renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { regex: nodeBuiltinsRegex, message: 'The renderer runs sandboxed in a browser: no Node APIs. Ask main through the preload API (desktop/src/preload) or use a browser API.' },
          { group: ['electron', 'electron/*'], message: 'The renderer never sees electron: use window.lightsout (the preload API) through the platform adapter.' },
          { group: ['node-pty', 'better-sqlite3', 'bufferutil', 'ws'], message: 'The renderer runs sandboxed in a browser: native and Node-only modules live in main; reach them through the preload API.' },
          { group: ['**/main/*', '**/preload/*'], message: 'The renderer may import shared/ and browser libraries only; talk to main through the preload API.' },
          ...otherPackages('relay', 'agent', 'cli', 'bmcsim'),
        ],
      }],
    },
  },
  {
    files: ['desktop/src/preload/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'electron', importNames: ['app', 'BrowserWindow', 'shell', 'dialog', 'safeStorage', 'ipcMain', 'net', 'session'], message: 'The preload may use contextBridge and ipcRenderer only.' }],
        patterns: [
          { regex: nodeBuiltinsRegex, message: 'The preload is sandboxed: contextBridge and ipcRenderer only, plus shared/ types.' },
          { group: ['**/main/*', '**/renderer/*'], message: 'The preload exposes an allow-list API; it imports only the IPC channel enum and shared/ types.', allowTypeImports: true },
          ...otherPackages('relay', 'agent', 'cli', 'bmcsim'),
        ],
      }],
    },
  },
  restrict(['desktop/src/main/**/*.ts'], [{ group: ['**/renderer/*'], message: 'Main may import shared/, node:* and electron; the renderer is a separate bundle.' }, ...otherPackages('relay', 'agent', 'bmcsim'), cliNodeOnly]),
  // bench: drives the packages from outside, through their package exports
  restrict(['bench/**/*.ts'], [
    { group: ['@lightsout/*/src', '@lightsout/*/src/*'], message: 'bench/ uses package exports (e.g. @lightsout/agent/media, @lightsout/relay/parts), never a package\'s src/ files.' },
  ]),
  // integration: the stream plane's chain tests, relay and agent together through their exports; nobody's production code imports it
  restrict(['integration/**/*.ts'], [
    { group: ['@lightsout/*/src', '@lightsout/*/src/*'], message: 'integration/ uses package exports (e.g. @lightsout/relay/parts, @lightsout/agent), never a package\'s src/ files.' },
    { group: ['@lightsout/bench', '@lightsout/bench/*'], message: 'integration/ is what bench builds on, never the other way round: move what both need into integration/src.' },
  ]),
  // e2e: black box
  restrict(['e2e-playwright/**/*.ts'], [
    { group: ['@lightsout/*', '../relay/*', '../agent/*', '../desktop/*', '../../*'], message: 'e2e tests are black-box: talk to the apps over HTTP/WebSocket and the browser, never import their code.' },
  ]),
  // production code of every application and library never imports test support
  {
    files: ['{shared,bmc-wire,relay,agent,cli,bmcsim,desktop}/src/**/*.{ts,tsx}'],
    ignores: ['**/*.test.{ts,tsx}', '**/testing/**'],
    rules: { 'lightsout/no-test-support': 'error' },
  },
  // tests may use non-null assertions and any where a fixture demands it
  { files: ['**/*.test.ts', '**/*.test.tsx'], rules: { '@typescript-eslint/no-non-null-assertion': 'off' } },
);
